/** The mail port: one message to one person. The sender is fixed by configuration, never by the caller. */
export interface OutgoingMail {
  /** A single bare address (no display name, no list). */
  to: string;
  /** One line; CR and LF are refused. */
  subject: string;
  text: string;
  /** An alternative HTML body; every value interpolated into it must already be escaped. */
  html?: string;
}

export interface Mailer {
  /** Resolves once the server has accepted the message; raises `mail_unavailable` otherwise. */
  send(mail: OutgoingMail): Promise<void>;
  /** Connects and authenticates without sending; raises `mail_unavailable` when that fails. */
  verify(): Promise<void>;
}
