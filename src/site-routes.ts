import { accountRoutes } from './account/account-routes.js';
import { confirmRoutes } from './account/confirm-routes.js';
import { sessionsRoutes } from './account/sessions-routes.js';
import { authRoutes } from './auth/auth-routes.js';
import { emailLinkRoutes } from './email-flows/email-link-routes.js';
import type { Logger } from './http/logging.js';
import { flowCookie } from './identities/flow-cookie.js';
import { identityRoutes } from './identities/identity-routes.js';
import { identitySecuritySection, reauthenticationChoices } from './identities/security-section.js';
import { loadPages } from './http/page.js';
import type { Routes } from './http/routes.js';
import { codeRequestCookie } from './login-code/code-request-cookie.js';
import { loginCodeRoutes } from './login-code/login-code-routes.js';
import { twoFactorLoginRoutes } from './mfa/two-factor-login-routes.js';
import { twoFactorRoutes } from './mfa/two-factor-routes.js';
import { challengeCookie } from './passkeys/challenge-cookie.js';
import { passkeyLoginRoutes } from './passkeys/passkey-login-routes.js';
import { passkeyRoutes } from './passkeys/passkey-routes.js';
import type { Services } from './services.js';

/**
 * Every part of the site, each a function of the services it needs: the routes it declares
 * (protected unless declared public), and the pages in the page directories found on disk.
 * Building them also lets each feature define its login steps' pages (services.stages).
 */
export async function siteRoutes(
  s: Services,
  { pageDirectories, logger }: { pageDirectories: readonly string[]; logger: Logger },
): Promise<Routes[]> {
  const { config, secrets } = s;
  const secure = config.isProduction;
  return [
    authRoutes({
      accounts: s.accounts,
      mail: s.mail,
      throttle: s.throttle,
      refusals: s.refusals,
      passwordChecks: s.passwordChecks,
      steps: s.steps,
      requireVerifiedEmail: config.requireVerifiedEmail,
      stages: s.stages,
    }),
    twoFactorLoginRoutes({
      factors: s.factors,
      steps: s.steps,
      codes: s.codes,
      stages: s.stages,
      activeUser: s.accounts.activeUser,
    }),
    passkeyLoginRoutes({
      ceremonies: s.ceremonies,
      challenges: challengeCookie(secrets, secure),
      steps: s.steps,
      throttle: s.throttle,
      refusals: s.refusals,
      stages: s.stages,
    }),
    emailLinkRoutes({ mail: s.mail, throttle: s.throttle, steps: s.steps, secure }),
    ...(config.loginByCode
      ? [
          loginCodeRoutes({
            codes: s.codesByMail,
            requests: codeRequestCookie(secrets, secure),
            throttle: s.throttle,
            steps: s.steps,
            stages: s.stages,
          }),
        ]
      : []),
    accountRoutes({
      accounts: s.accounts,
      throttle: s.throttle,
      refusals: s.refusals,
      passwordChecks: s.passwordChecks,
    }),
    confirmRoutes({
      passwordChecks: s.passwordChecks,
      codes: s.codes,
      steps: s.steps,
      secondFactor: s.factors,
      reauthenticateAt: reauthenticationChoices(s.identityProviders, s.identities),
    }),
    identityRoutes({
      providers: s.identityProviders,
      identities: s.identities,
      flows: flowCookie(secrets, secure),
      steps: s.steps,
      stages: s.stages,
      throttle: s.throttle,
      refusals: s.refusals,
      publicUrl: config.publicUrl,
      logger,
      askForPasswordLink: (email, origin) => s.mail.askForPasswordReset(email, origin),
    }),
    twoFactorRoutes({
      factors: s.factors,
      passwordChecks: s.passwordChecks,
      otherSessions: s.otherSessions,
      securitySections: identitySecuritySection(s.identityProviders, s.identities),
    }),
    passkeyRoutes({
      ceremonies: s.ceremonies,
      factors: s.factors,
      passwordChecks: s.passwordChecks,
      otherSessions: s.otherSessions,
      atomically: s.tx.atomically,
    }),
    sessionsRoutes(s.accounts),
    await loadPages(pageDirectories, { accounts: s.accounts, personalData: s.personalData, logger }),
  ];
}
