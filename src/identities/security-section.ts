import { messages } from '../messages.js';
import type { SecuritySection } from '../mfa/two-factor-routes.js';
import type { Identities } from './identities.js';
import type { IdentityProvider } from './provider-profile.js';

/**
 * The security page's part about sign-in providers: the identities connected (with Disconnect)
 * and a Connect button for each configured provider; nothing when no provider is configured.
 */
export function identitySecuritySection(providers: readonly IdentityProvider[], identities: Identities) {
  const labelOf = (name: string) => providers.find((provider) => provider.name === name)?.label ?? name;
  return async (userId: number): Promise<readonly SecuritySection[]> => {
    const connected = await identities.list(userId);
    if (providers.length === 0 && connected.length === 0) return [];
    return [
      {
        template: 'identities/_security-section.njk',
        data: {
          connected: connected.map((identity) => ({
            id: identity.id,
            label: labelOf(identity.provider),
            emailSeen: identity.emailSeen,
            linkedAt: identity.linkedAt,
          })),
          available: providers.map((provider) => ({ name: provider.name, label: provider.label })),
          hasPassword: await identities.hasPassword(userId),
        },
      },
    ];
  };
}

/** The providers the user can confirm it is them at: those of their identities that can ask for a new sign-in. */
export function reauthenticationChoices(providers: readonly IdentityProvider[], identities: Identities) {
  return async (userId: number): Promise<ReadonlyArray<{ path: string; label: string }>> => {
    const names = new Set((await identities.list(userId)).map((identity) => identity.provider));
    return providers
      .filter((provider) => provider.canReauthenticate && names.has(provider.name))
      .map((provider) => ({
        path: `/account/confirm/provider/${provider.name}`,
        label: messages.identities.signInAgain(provider.label),
      }));
  };
}
