import type { IdentityProviderConfig } from '../config.js';

/**
 * Where "Continue with …" sends a browser: each provider's origin (its issuer's, or GitHub's).
 * The CSP's form-action must name them, since browsers hold the redirect that answers a form
 * to it too (the button posts to this site, which answers 303 to the provider). A provider whose
 * authorization endpoint is on another origin than its issuer needs its issuer set to that origin.
 */
export const providerOrigins = (providers: readonly IdentityProviderConfig[]): string[] => [
  ...new Set(
    providers.map((provider) => new URL(provider.kind === 'github' ? provider.webUrl : provider.issuer).origin),
  ),
];
