import { accountRoutes } from './account/account-routes.js';
import { confirmRoutes } from './account/confirm-routes.js';
import { consoleRoutes } from './admin-console/console-routes.js';
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
      signUp: s.flows.signUp,
      login: s.flows.login,
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
      activeUser: s.flows.login.activeUser,
    }),
    passkeyLoginRoutes({
      ceremonies: s.ceremonies,
      challenges: challengeCookie(secrets, secure),
      steps: s.steps,
      stages: s.stages,
    }),
    emailLinkRoutes({ mail: s.mail, steps: s.steps, secure }),
    ...(config.loginByCode
      ? [
          loginCodeRoutes({
            codes: s.codesByMail,
            requests: codeRequestCookie(secrets, secure),
            steps: s.steps,
            stages: s.stages,
          }),
        ]
      : []),
    accountRoutes({
      profile: s.flows.profile,
      emailChange: s.flows.emailChange,
      passwordChange: s.flows.passwordChange,
      deletion: s.flows.deletion,
      passwordChecks: s.passwordChecks,
    }),
    confirmRoutes({
      passwordChecks: s.passwordChecks,
      codes: s.codes,
      steps: s.steps,
      stages: s.stages,
      secondFactor: s.factors,
      reauthenticateAt: reauthenticationChoices(s.identityProviders, s.identities),
    }),
    identityRoutes({
      providers: s.identityProviders,
      identities: s.identities,
      flows: flowCookie(secrets, secure),
      steps: s.steps,
      stages: s.stages,
      publicUrl: config.publicUrl,
      logger,
      askForPasswordLink: (email, origin) => s.mail.askForPasswordReset(email, { origin, device: null }),
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
    sessionsRoutes(s.flows.sessions),
    // Behind the console's gate (app.ts mounts it over /admin): admins with a second factor, recently logged in.
    consoleRoutes({ reads: s.adminConsole.reads, actions: s.adminConsole.actions }),
    await loadPages(pageDirectories, { profile: s.flows.profile, personalData: s.personalData, logger }),
  ];
}
