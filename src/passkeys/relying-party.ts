import { isIP } from 'node:net';

/** Who the passkeys are for: WebAuthn's relying party, from PUBLIC_URL. */
export interface RelyingParty {
  /** PUBLIC_URL's host: the RP id every passkey is bound to. */
  readonly id: string;
  /** PUBLIC_URL's origin: the only origin an answer may come from. */
  readonly origin: string;
  readonly name: string;
  /** False on an IP address, where browsers refuse WebAuthn: the passkey parts hide themselves. */
  readonly available: boolean;
}

export function relyingParty(publicUrl: string, name = 'Gatehouse'): RelyingParty {
  const url = new URL(publicUrl);
  const id = url.hostname.replace(/^\[|\]$/g, '');
  return { id, origin: url.origin, name, available: isIP(id) === 0 };
}
