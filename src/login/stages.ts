import type { Request, Response } from 'express';
import type { FollowUp } from './assurance.js';

/** A page of a login's step, as its feature shows it: the login floor and other features never name its template. */
export interface StagePage {
  /** Where the browser goes to take this step. */
  readonly path: string;
  /** The page again with `errors` (a try made elsewhere failed: a passkey's answer posted from it). */
  show(req: Request, res: Response, status: number, errors: Record<string, string>): Promise<void>;
}

/** What the login page shows when a login is refused or must be tried again. */
export interface StartPageView {
  readonly values: { readonly email?: string; readonly next: string };
  readonly errors: Record<string, string>;
  /** An address that must be confirmed before it can log in (the page offers the link again). */
  readonly unverified?: string;
}

/** Another way in, offered on the login page (a link to its own first step, `next` kept). */
export interface WayIn {
  readonly label: string;
  readonly path: string;
}

/**
 * "Confirm it's you": where a signed-in user whose login is too old for a sensitive page proves
 * it is them again (requireRecentLogin sends them there), and comes back to `next`.
 */
export interface ConfirmPage {
  readonly path: string;
  /** The page again with `errors` (a try made elsewhere failed: a passkey's answer posted from it). */
  show(
    req: Request,
    res: Response,
    status: number,
    view: { next: string; errors: Record<string, string> },
  ): Promise<void>;
}

/** An identity provider's "Continue with …" button on the login and signup pages: a form that POSTs to `path`. */
export interface ProviderButton {
  readonly label: string;
  readonly path: string;
}

/** The login page, where every way in starts. */
export interface StartPage {
  readonly path: string;
  show(res: Response, status: number, view: StartPageView): void;
}

/**
 * Where each step of a login lives. Each feature defines the pages of the steps it owns when the
 * app is wired (auth the login page; mfa the authenticator app, the passkey choice and recovery
 * codes; account "confirm it's you"), and the rest reach them only through here: no feature renders another's template or
 * names its URL.
 */
export class LoginStages {
  private readonly pages = new Map<FollowUp, StagePage>();
  private startPage: StartPage | null = null;
  private confirmPage: ConfirmPage | null = null;
  private readonly offered: WayIn[] = [];
  private readonly buttons: ProviderButton[] = [];

  /** Declares the page of one step (once each). */
  define(step: FollowUp, page: StagePage): void {
    if (this.pages.has(step)) throw new Error(`the login step ${step} is defined twice`);
    this.pages.set(step, page);
  }

  /** Declares the login page (once). */
  defineStart(page: StartPage): void {
    if (this.startPage) throw new Error('the login page is defined twice');
    this.startPage = page;
  }

  /** Declares the "confirm it's you" page (once). */
  defineConfirm(page: ConfirmPage): void {
    if (this.confirmPage) throw new Error('the confirm page is defined twice');
    this.confirmPage = page;
  }

  /** Offers another way in on the login page (a code by email, later identity providers). */
  offerWayIn(way: WayIn): void {
    this.offered.push(way);
  }

  /** Offers an identity provider's button on the login and signup pages. */
  offerProvider(button: ProviderButton): void {
    this.buttons.push(button);
  }

  /** The identity providers' buttons, for the login and signup pages. */
  get providers(): readonly ProviderButton[] {
    return this.buttons;
  }

  /** The other ways in, for the login page to offer. */
  get waysIn(): readonly WayIn[] {
    return this.offered;
  }

  page(step: FollowUp): StagePage {
    const page = this.pages.get(step);
    if (!page) throw new Error(`no page for the login step ${step}`);
    return page;
  }

  get confirm(): ConfirmPage {
    if (!this.confirmPage) throw new Error('no confirm page');
    return this.confirmPage;
  }

  get start(): StartPage {
    if (!this.startPage) throw new Error('no login page');
    return this.startPage;
  }
}
