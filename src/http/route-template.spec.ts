import { toRouteTemplate } from './route-template';

describe('toRouteTemplate', () => {
  it.each([
    ['/key{/*key}', '/key/{key}'],
    ['/ttl{/*key}', '/ttl/{key}'],
    ['/keys', '/keys'],
    ['/health/ready', '/health/ready'],
    ['/docs-json', '/docs-json'],
  ])('spells %s as %s', (routerPath, template) => {
    expect(toRouteTemplate(routerPath)).toBe(template);
  });
});
