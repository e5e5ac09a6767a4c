/**
 * The route a request matched, written as in the API description (`/key/{key}`), from the
 * router's own spelling, path-to-regexp's `/key{/*key}` (Express 5, and the controllers' own
 * paths), so that metrics label a few templates, never the paths themselves.
 */
export function toRouteTemplate(routerPath: string): string {
  return routerPath.replace(/\{\/\*(\w+)\}/g, '/{$1}');
}
