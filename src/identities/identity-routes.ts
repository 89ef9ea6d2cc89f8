import type { Request, Response } from 'express';
import type { Logger } from '../http/logging.js';
import { parseFixedForm } from '../forms/parse-form.js';
import { requireAnonymous } from '../http/current-user.js';
import { HttpError } from '../http/errors.js';
import { flash } from '../http/flash.js';
import { requireRecentLogin } from '../http/recent-login.js';
import { originOf } from '../http/request-origin.js';
import { Routes, type SignedInRequest } from '../http/routes.js';
import { safeNext } from '../http/safe-next.js';
import type { LoginSteps } from '../login/login-steps.js';
import type { LoginStages } from '../login/stages.js';
import { messages } from '../messages.js';
import type { User } from '../users/users-repo.js';
import type { Flow, FlowCookie, NewFlow } from './flow-cookie.js';
import type { Identities } from './identities.js';
import { confirmForm, disconnectForm, providerName, startForm } from './identity-forms.js';
import { type IdentityProvider, ProviderDeclined, ProviderFailed, type ProviderProfile } from './provider-profile.js';

export interface IdentityRouteDeps {
  readonly providers: readonly IdentityProvider[];
  readonly identities: Identities;
  readonly flows: FlowCookie;
  readonly steps: Pick<LoginSteps, 'firstStepDone' | 'confirmed'>;
  readonly stages: Pick<LoginStages, 'offerProvider' | 'start'>;
  /** Mails the account a link to set its password (the reset link, which proves the address too). */
  readonly askForPasswordLink: (email: string, origin: ReturnType<typeof originOf>) => Promise<void>;
  /** The absolute base the callback is registered under: PUBLIC_URL. */
  readonly publicUrl: string;
  readonly logger: Logger;
}

const SECURITY_PATH = '/account/security';
const RECENT_MINUTES = 10;
const startPath = (name: string) => `/login/oidc/${name}`;
/** What an authorization answer holds (RFC 6749 4.1.2, RFC 9207): all a form_post answer passes on. */
const ANSWER_FIELDS = ['code', 'state', 'iss', 'error', 'error_description'] as const;
const callbackPath = (name: string) => `/login/oidc/${name}/callback`;

/**
 * Signing in with an identity provider (a first stage: a provider's sign-in is a first factor,
 * and login-steps sends an account with a second factor on to its second step), connecting one
 * to the signed-in account and disconnecting it, and "confirm it's you" at the provider. Every
 * flow starts with a POST (CSRF token) and comes back to PUBLIC_URL + /login/oidc/NAME/callback,
 * where the browser's own flow cookie is taken once and the answer checked against it.
 */
export function identityRoutes({
  providers,
  identities,
  flows,
  steps,
  stages,
  publicUrl,
  logger,
  askForPasswordLink,
}: IdentityRouteDeps): Routes {
  const routes = new Routes();
  const byName = new Map(providers.map((provider) => [provider.name, provider]));
  for (const provider of providers) {
    stages.offerProvider({ label: messages.identities.continueWith(provider.label), path: startPath(provider.name) });
  }
  const labelOf = (name: string) => byName.get(name)?.label ?? name;

  const providerFor = (req: Request): IdentityProvider => {
    const name = providerName.safeParse(req.params['name']);
    const provider = name.success ? byName.get(name.data) : undefined;
    if (!provider) throw new HttpError(404, messages.errors.notFound);
    return provider;
  };

  /** The flow's cookie is set and the browser sent to the provider; a provider that cannot be reached is a 503. */
  async function sendToProvider(res: Response, provider: IdentityProvider, flow: NewFlow): Promise<void> {
    let url: URL;
    const started = flows.start(res, flow);
    try {
      url = await provider.authorizationUrl(started, `${publicUrl}${callbackPath(provider.name)}`);
    } catch (error) {
      const reason = error instanceof ProviderFailed ? error.reason : 'unreachable';
      logger.warn({ provider: provider.name, reason }, 'identity provider unreachable');
      throw new HttpError(503, messages.identities.failed(provider.label));
    }
    res.redirect(303, url.href);
  }

  /** Back to the login page with `text` (a cancelled or failed sign-in; never a 500). */
  const backToLogin = (res: Response, text: string, next = '/') => {
    flash(res, 'error', text);
    res.redirect(303, next === '/' ? '/login' : `/login?next=${encodeURIComponent(next)}`);
  };

  // With no provider configured there is no way in to offer, and no route for one.
  if (providers.length > 0) {
    routes.public.post('/login/oidc/:name', requireAnonymous, async (req, res) => {
      const provider = providerFor(req);
      const form = parseFixedForm(startForm, req.body);
      await sendToProvider(res, provider, {
        provider: provider.name,
        purpose: 'login',
        userId: null,
        next: safeNext(form.next ?? '/'),
        remember: form.remember,
      });
    });

    routes.public.get('/login/oidc/:name/callback', (req, res) => {
      const search = req.originalUrl.includes('?') ? req.originalUrl.slice(req.originalUrl.indexOf('?')) : '';
      return callback(req, res, providerFor(req), search);
    });

    // form_post (Apple): the provider's page POSTs the answer here from its own site, which carries
    // no SameSite=Lax cookie (neither the flow's nor the session's). So this POST only sends the
    // browser on to the GET above with the answer in the query, a top-level navigation that does
    // carry them; it changes nothing itself, which is why it alone needs no CSRF token and no
    // same-origin check (app.ts). Only a provider that answers this way is heard here.
    routes.public.post('/login/oidc/:name/callback', (req, res) => {
      const provider = providerFor(req);
      if (!provider.formPost) throw new HttpError(404, messages.errors.notFound);
      const body: unknown = req.body;
      const given = typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
      const fields = new URLSearchParams();
      for (const key of ANSWER_FIELDS) {
        const value = given[key];
        if (typeof value === 'string' && value.length <= 4096) fields.append(key, value);
      }
      res.redirect(303, `${callbackPath(provider.name)}?${fields.toString()}`);
    });
  }

  async function callback(req: Request, res: Response, provider: IdentityProvider, search: string) {
    const flow = flows.take(req, res, provider.name);
    const user = res.locals.currentUser as User | undefined;
    if (!flow) {
      if (user) {
        flash(res, 'error', messages.identities.startAgain(provider.label));
        return res.redirect(303, SECURITY_PATH);
      }
      return backToLogin(res, messages.identities.startAgain(provider.label));
    }
    const fallback = flow.purpose === 'login' ? null : flow.purpose === 'connect' ? SECURITY_PATH : flow.next;
    const failed = (text: string) => {
      if (fallback === null) return backToLogin(res, text, flow.next);
      flash(res, 'error', text);
      res.redirect(303, fallback);
    };

    let profile: ProviderProfile;
    try {
      // Counted per network first: a forged or replayed answer is a guess like a wrong password.
      profile = await identities.answer({ origin: originOf(req), device: null }, () =>
        provider.finish(new URL(`${publicUrl}${callbackPath(provider.name)}${search}`), flow),
      );
    } catch (error) {
      if (error instanceof ProviderDeclined) return failed(messages.identities.cancelled(provider.label));
      if (!(error instanceof ProviderFailed)) throw error;
      // The library's reason only: never a code, a token or a secret.
      logger.warn({ provider: provider.name, reason: error.reason }, 'identity provider answer refused');
      await identities.refused(flow.userId, provider, error.reason, originOf(req));
      return failed(messages.identities.failed(provider.label));
    }
    if (flow.purpose === 'login') return signIn(req, res, provider, profile, flow);
    // Connecting and confirming are for the account that started the flow, still signed in here.
    if (!user || user.id !== flow.userId) {
      if (!user) return backToLogin(res, messages.identities.wrongUser);
      return failed(messages.identities.wrongUser);
    }
    if (flow.purpose === 'connect') return connect(req as SignedInRequest, res, provider, profile);
    return confirm(req as SignedInRequest, res, provider, profile, flow);
  }

  async function signIn(req: Request, res: Response, provider: IdentityProvider, profile: ProviderProfile, flow: Flow) {
    if (res.locals.currentUser) return res.redirect(303, '/');
    const outcome = await identities.signIn(provider, profile, originOf(req));
    switch (outcome.kind) {
      case 'known':
      case 'created':
        return steps.firstStepDone(
          req,
          res,
          outcome.user,
          { remember: flow.remember, next: flow.next },
          'identity provider',
        );
      case 'address-taken':
        return res.status(409).render('identities/address-taken.njk', {
          provider: provider.label,
          message: messages.identities.addressTaken(provider.label),
          next: flow.next,
        });
      case 'no-email':
        return backToLogin(res, messages.identities.noEmail(provider.label), flow.next);
      case 'inactive':
        return stages.start.show(res, 403, {
          values: { next: flow.next },
          errors: { form: messages.identities.inactive },
        });
    }
  }

  async function connect(req: SignedInRequest, res: Response, provider: IdentityProvider, profile: ProviderProfile) {
    const outcome = await identities.connect(req.user, provider, profile, originOf(req));
    if (outcome === 'connected') flash(res, 'success', messages.identities.connected(provider.label));
    else if (outcome === 'already') flash(res, 'info', messages.identities.alreadyConnected(provider.label));
    else flash(res, 'error', messages.identities.linkedElsewhere(provider.label));
    res.redirect(303, SECURITY_PATH);
  }

  async function confirm(
    req: SignedInRequest,
    res: Response,
    provider: IdentityProvider,
    profile: ProviderProfile,
    flow: Flow,
  ) {
    // The provider must have signed the person in during this flow (prompt=login, max_age=0), as this account's identity.
    const fresh = profile.authTime !== null && profile.authTime * 1000 >= flow.startedAt - 5_000;
    if (!fresh || !(await identities.belongsTo(req.user.id, profile))) {
      flash(res, 'error', messages.identities.notRecentEnough(provider.label));
      return res.redirect(303, `/account/confirm?next=${encodeURIComponent(flow.next)}`);
    }
    await steps.confirmed(req, provider.label);
    res.redirect(303, flow.next);
  }

  routes.post('/account/identities/:name/connect', requireRecentLogin(RECENT_MINUTES), async (req, res) => {
    const provider = providerFor(req);
    parseFixedForm(confirmForm, req.body);
    await sendToProvider(res, provider, {
      provider: provider.name,
      purpose: 'connect',
      userId: req.user.id,
      next: SECURITY_PATH,
      remember: false,
    });
  });

  routes.post('/account/identities/disconnect', requireRecentLogin(RECENT_MINUTES), async (req, res) => {
    const form = parseFixedForm(disconnectForm, req.body);
    const outcome = await identities.disconnect(req.user, Number(form.id), labelOf, originOf(req));
    if (outcome.ok) flash(res, 'success', messages.identities.disconnected(labelOf(outcome.identity.provider)));
    else if (outcome.reason === 'gone') flash(res, 'info', messages.identities.alreadyGone);
    else flash(res, 'error', messages.identities.lastWayIn);
    res.redirect(303, SECURITY_PATH);
  });

  // An account made by a provider has no password: its owner sets one by a mailed link, like a reset.
  routes.post('/account/password/set', async (req, res) => {
    parseFixedForm(confirmForm, req.body);
    const { user } = req;
    if (await identities.hasPassword(user.id)) {
      flash(res, 'info', messages.identities.hasPasswordAlready);
      return res.redirect(303, '/account/password');
    }
    // Limited like any mailed link, per address and network (a 429 before anything is queued).
    await askForPasswordLink(user.email, originOf(req));
    flash(res, 'info', messages.identities.setPasswordSent(user.email));
    res.redirect(303, '/account/password');
  });

  routes.post('/account/confirm/provider/:name', async (req, res) => {
    const provider = providerFor(req);
    if (!provider.canReauthenticate) throw new HttpError(404, messages.errors.notFound);
    const form = parseFixedForm(confirmForm, req.body);
    await sendToProvider(res, provider, {
      provider: provider.name,
      purpose: 'confirm',
      userId: req.user.id,
      next: safeNext(form.next ?? '/'),
      remember: false,
    });
  });

  return routes;
}
