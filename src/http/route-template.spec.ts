import { toRouteTemplate } from './route-template';

describe('toRouteTemplate', () => {
  it.each([
    ['/key{/*key}', '/key/{key}'],
    ['/ttl{/*key}', '/ttl/{key}'],
    ['/keys', '/keys'],
    ['/health/ready', '/health/ready'],
    ['/items/:id', '/items/{id}'],
    ['/a/:x/b/:y', '/a/{x}/b/{y}'],
  ])('spells %s as %s', (routerPath, template) => {
    expect(toRouteTemplate(routerPath)).toBe(template);
  });
});
