import { type KeyObject, createHash, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { isoCBOR } from '@simplewebauthn/server/helpers';

/**
 * A software authenticator for the tests: an ES256 key pair per passkey, and authenticator data
 * and client data built by hand, byte for byte as WebAuthn lays them out. It answers the
 * server's options the way a browser and a platform authenticator would, and can be told to
 * lie (another origin, another RP id, no user verification, a bad signature) the way an
 * attacker would. Only the CBOR encoding is borrowed (from the library's helpers).
 */

interface StoredKey {
  readonly id: Buffer;
  readonly privateKey: KeyObject;
  readonly userHandle: string;
  counter: number;
}

export interface Lies {
  /** The origin the "browser" puts in the client data. */
  readonly origin?: string;
  /** The RP id whose hash goes into the authenticator data. */
  readonly rpId?: string;
  /** Whether the user-verified flag is set (default true). */
  readonly userVerified?: boolean;
  /** Another challenge than the options' one. */
  readonly challenge?: string;
  /** Flip a bit of the signature. */
  readonly badSignature?: boolean;
  /** Another user handle than the one the passkey was made for. */
  readonly userHandle?: string;
}

const FLAG_UP = 0x01;
const FLAG_UV = 0x04;
const FLAG_AT = 0x40;

const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest();
const b64 = (data: Buffer) => data.toString('base64url');

export interface RegistrationOptions {
  readonly challenge: string;
  readonly rp: { readonly id?: string };
  readonly user: { readonly id: string };
}

export interface AuthenticationOptions {
  readonly challenge: string;
  readonly rpId?: string;
  readonly allowCredentials?: ReadonlyArray<{ readonly id: string }>;
}

export class SoftwareAuthenticator {
  private readonly keys = new Map<string, StoredKey>();

  constructor(
    readonly origin: string,
    readonly rpId: string,
  ) {}

  /** Makes a passkey for the options (navigator.credentials.create) and answers with it. */
  register(options: RegistrationOptions, lies: Lies = {}) {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = publicKey.export({ format: 'jwk' });
    const id = randomBytes(16);
    const cose = Buffer.from(
      isoCBOR.encode(
        new Map<number, number | Uint8Array>([
          [1, 2], // kty: EC2
          [3, -7], // alg: ES256
          [-1, 1], // crv: P-256
          [-2, Buffer.from(jwk.x ?? '', 'base64url')],
          [-3, Buffer.from(jwk.y ?? '', 'base64url')],
        ]),
      ),
    );
    this.keys.set(b64(id), { id, privateKey, userHandle: options.user.id, counter: 0 });
    const flags = FLAG_UP | FLAG_AT | (lies.userVerified === false ? 0 : FLAG_UV);
    const length = Buffer.alloc(2);
    length.writeUInt16BE(id.length);
    const authData = Buffer.concat([
      sha256(lies.rpId ?? options.rp.id ?? this.rpId),
      Buffer.from([flags]),
      Buffer.alloc(4), // sign count 0
      Buffer.alloc(16), // AAGUID: none
      length,
      id,
      cose,
    ]);
    const attestationObject = Buffer.from(
      isoCBOR.encode(
        new Map<string, string | Uint8Array | Map<string, string>>([
          ['fmt', 'none'],
          ['attStmt', new Map<string, string>()],
          ['authData', authData],
        ]),
      ),
    );
    const clientDataJSON = this.clientData('webauthn.create', options.challenge, lies);
    return {
      id: b64(id),
      rawId: b64(id),
      type: 'public-key' as const,
      response: {
        clientDataJSON: b64(clientDataJSON),
        attestationObject: b64(attestationObject),
        transports: ['internal'],
      },
      authenticatorAttachment: 'platform' as const,
      clientExtensionResults: {},
    };
  }

  /** The clientDataJSON a browser makes for a ceremony: the challenge and origin asked for, unless `lies` says otherwise. */
  private clientData(type: 'webauthn.create' | 'webauthn.get', challenge: string, lies: Lies): Buffer {
    return Buffer.from(
      JSON.stringify({
        type,
        challenge: lies.challenge ?? challenge,
        origin: lies.origin ?? this.origin,
        crossOrigin: false,
      }),
    );
  }

  /** Signs in (navigator.credentials.get) with one of its passkeys: the one asked for, or the first it has. */
  authenticate(options: AuthenticationOptions, credentialId?: string, lies: Lies = {}) {
    const allowed = options.allowCredentials?.map((credential) => credential.id) ?? [];
    const id = credentialId ?? [...this.keys.keys()].find((key) => allowed.length === 0 || allowed.includes(key));
    const key = id === undefined ? undefined : this.keys.get(id);
    if (!key) throw new Error('the authenticator has no passkey for these options');
    key.counter += 1;
    const counter = Buffer.alloc(4);
    counter.writeUInt32BE(key.counter);
    const flags = FLAG_UP | (lies.userVerified === false ? 0 : FLAG_UV);
    const authData = Buffer.concat([sha256(lies.rpId ?? options.rpId ?? this.rpId), Buffer.from([flags]), counter]);
    const clientDataJSON = this.clientData('webauthn.get', options.challenge, lies);
    const signature = sign('sha256', Buffer.concat([authData, sha256(clientDataJSON)]), key.privateKey);
    if (lies.badSignature) signature[signature.length - 1] = (signature[signature.length - 1] ?? 0) ^ 0x01;
    return {
      id: b64(key.id),
      rawId: b64(key.id),
      type: 'public-key' as const,
      response: {
        clientDataJSON: b64(clientDataJSON),
        authenticatorData: b64(authData),
        signature: b64(signature),
        userHandle: lies.userHandle ?? key.userHandle,
      },
      authenticatorAttachment: 'platform' as const,
      clientExtensionResults: {},
    };
  }

  /** The ids of the passkeys it holds. */
  get credentialIds(): string[] {
    return [...this.keys.keys()];
  }
}
