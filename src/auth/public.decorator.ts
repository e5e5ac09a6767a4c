import { SetMetadata } from '@nestjs/common';

export const ACCESS = 'kvstore:access';

/** Who may call a route when AUTH_TOKEN is set (without it, everyone may call everything). */
export type Access = 'public' | 'metrics';

/** Marks a route that answers without a token even when AUTH_TOKEN is set. */
export const Public = () => SetMetadata(ACCESS, 'public' satisfies Access);

/** Marks the metrics route: open or protected as METRICS_PUBLIC says. */
export const MetricsRoute = () => SetMetadata(ACCESS, 'metrics' satisfies Access);
