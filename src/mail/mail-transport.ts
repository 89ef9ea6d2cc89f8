import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config.js';
import type { Logger } from '../http/logging.js';
import type { RenderedMail } from './mail-templates.js';

export interface OutgoingMail extends RenderedMail {
  /** The outbox row's id: the only thing about a message that is logged in SMTP mode. */
  readonly id: number;
  readonly to: string;
  readonly template: string;
}

export interface MailTransport {
  /** Resolves once the message is accepted (by the SMTP server, or written to disk); rejects otherwise. */
  deliver(mail: OutgoingMail): Promise<void>;
  close(): void;
}

// Our messages are plain text and HTML we render ourselves: nodemailer never needs to read a file
// or fetch a URL for them, so both are switched off (they are what nodemailer's advisories abuse).
const NO_FETCHING = { disableFileAccess: true, disableUrlAccess: true } as const;

// nodemailer's defaults wait minutes on a server that does not answer; a message must finish well
// within the worker's lease, or another worker could take it and send it a second time.
const SMTP_TIMEOUTS = { connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 30_000 } as const;

/** The longest one delivery can take, for the worker's lease. */
export const MAX_DELIVERY_SECONDS = 60;

/** The message both transports build: our sender, one recipient, the text and HTML parts. */
const message = (config: Config, mail: OutgoingMail) => ({
  from: config.mailFrom,
  to: mail.to,
  subject: mail.subject,
  text: mail.text,
  html: mail.html,
});

/**
 * The transport the configuration asks for. nodemailer is loaded here, when the first message
 * goes out, not at start-up: a process that never sends mail never holds it in memory.
 */
export async function createMailTransport(config: Config, logger: Logger): Promise<MailTransport> {
  const { default: nodemailer } = await import('nodemailer');
  return config.mailTransport === 'smtp'
    ? smtpTransport(nodemailer, config, logger)
    : outboxTransport(nodemailer, config, logger);
}

type Nodemailer = (typeof import('nodemailer'))['default'];

function smtpTransport(nodemailer: Nodemailer, config: Config, logger: Logger): MailTransport {
  if (config.smtpUrl === undefined) throw new Error('SMTP_URL is required for the smtp mail transport');
  const transporter = nodemailer.createTransport({ url: config.smtpUrl, ...SMTP_TIMEOUTS, ...NO_FETCHING });
  return {
    async deliver(mail) {
      const info = await transporter.sendMail(message(config, mail));
      // Never the content or the link: in production they carry one-time tokens.
      logger.info({ mailId: mail.id, template: mail.template, messageId: info.messageId }, 'mail sent');
    },
    close: () => transporter.close(),
  };
}

/**
 * Development without a mail server: each message becomes an .eml file in DATA_DIR/outbox
 * (any mail program opens it), and its first link is logged so a newcomer can click through.
 */
function outboxTransport(nodemailer: Nodemailer, config: Config, logger: Logger): MailTransport {
  const dir = path.join(config.dataDir, 'outbox');
  const transporter = nodemailer.createTransport({ streamTransport: true, buffer: true, ...NO_FETCHING });
  return {
    async deliver(mail) {
      const info = await transporter.sendMail(message(config, mail));
      if (!Buffer.isBuffer(info.message)) throw new Error('stream transport did not buffer the message');
      await mkdir(dir, { recursive: true, mode: 0o700 });
      const file = path.join(dir, `${new Date().toISOString().replace(/[:.]/g, '-')}-${mail.id}-${mail.template}.eml`);
      // Private to the app's user: the files hold live reset links.
      await writeFile(file, info.message, { mode: 0o600 });
      const link = /https?:\/\/\S+/.exec(mail.text)?.[0];
      // A production that chose the outbox on purpose keeps the links (and addresses) out of its logs; the files have them.
      const shown = config.isProduction ? {} : { to: mail.to, link };
      logger.info({ mailId: mail.id, template: mail.template, file, ...shown }, 'mail written to outbox');
    },
    close: () => transporter.close(),
  };
}
