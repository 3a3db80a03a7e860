//! E-mail notices (lettre): when a package's protocol is ready, the sender's contact address
//! gets the outcome and the count of findings. `[mail] transport` picks how: `file` (the
//! default: one `.eml` file per message in `mail.file_dir`, for a machine without a mail
//! server), `smtp` (production: `mail.smtp_host`, `smtp_port`, `smtp_security`, optional
//! credentials), or `off`.

use std::path::PathBuf;

use lettre::message::{Mailbox, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{FileTransport, Message, SmtpTransport, Transport as _};

use crate::config::{MailSecurity, MailSettings, MailTransport};

enum Transport {
    Off,
    File(FileTransport),
    Smtp(Box<SmtpTransport>),
}

/// Sends the hub's e-mail.
pub struct Mailer {
    transport: Transport,
    from: Mailbox,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.transport {
            Transport::Off => "off",
            Transport::File(_) => "file",
            Transport::Smtp(_) => "smtp",
        };
        f.debug_struct("Mailer")
            .field("transport", &kind)
            .field("from", &self.from.to_string())
            .finish()
    }
}

impl Mailer {
    /// The mailer `[mail]` describes (a file transport creates its folder).
    pub fn from_settings(settings: &MailSettings) -> anyhow::Result<Self> {
        let from: Mailbox = settings
            .from
            .parse()
            .map_err(|e| anyhow::anyhow!("mail.from `{}` is not an address: {e}", settings.from))?;
        let transport = match settings.transport {
            MailTransport::Off => Transport::Off,
            MailTransport::File => {
                let dir = PathBuf::from(&settings.file_dir);
                std::fs::create_dir_all(&dir).map_err(|e| {
                    anyhow::anyhow!("cannot create mail.file_dir {}: {e}", dir.display())
                })?;
                Transport::File(FileTransport::new(dir))
            }
            MailTransport::Smtp => {
                let host = settings.smtp_host.as_str();
                let mut builder = SmtpTransport::builder_dangerous(host).port(settings.smtp_port);
                match settings.smtp_security {
                    MailSecurity::None => {}
                    MailSecurity::Starttls => {
                        builder = builder.tls(Tls::Required(TlsParameters::new(host.to_owned())?));
                    }
                    MailSecurity::Tls => {
                        builder = builder.tls(Tls::Wrapper(TlsParameters::new(host.to_owned())?));
                    }
                }
                if !settings.smtp_user.is_empty() {
                    builder = builder.credentials(Credentials::new(
                        settings.smtp_user.clone(),
                        settings.smtp_password.clone(),
                    ));
                }
                Transport::Smtp(Box::new(
                    builder
                        .timeout(Some(std::time::Duration::from_secs(30)))
                        .build(),
                ))
            }
        };
        Ok(Self { transport, from })
    }

    /// Whether messages are sent at all.
    #[must_use]
    pub fn is_on(&self) -> bool {
        !matches!(self.transport, Transport::Off)
    }

    /// One complete MIME message: `MIME-Version`, a `Message-ID`, `Date`, and a single
    /// `text/plain; charset=utf-8` part whose transfer encoding lettre picks (quoted-printable
    /// or base64 for Cyrillic text), so every mail client reads it as sent.
    fn message(from: Mailbox, to: Mailbox, subject: &str, body: &str) -> anyhow::Result<Message> {
        Ok(Message::builder()
            .from(from)
            .to(to)
            .subject(subject)
            .message_id(None)
            .singlepart(SinglePart::plain(body.to_owned()))?)
    }

    /// Sends one plain-text message to `to`.
    pub fn send(&self, to: &str, subject: &str, body: &str) -> anyhow::Result<()> {
        let to: Mailbox = to
            .parse()
            .map_err(|e| anyhow::anyhow!("`{to}` is not an e-mail address: {e}"))?;
        let message = Self::message(self.from.clone(), to, subject, body)?;
        match &self.transport {
            Transport::Off => {}
            Transport::File(t) => {
                t.send(&message)?;
            }
            Transport::Smtp(t) => {
                t.send(&message)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_notice_is_a_complete_mime_message() {
        let from: Mailbox = "omshub@hub.test".parse().unwrap();
        let to: Mailbox = "fund@tf.test".parse().unwrap();
        let body = "Пакет HM750901T75_26018 принят: 0 замечаний.\n";
        let message = Mailer::message(from, to, "Протокол готов", body).unwrap();
        let text = String::from_utf8(message.formatted()).unwrap();
        let (head, _) = text.split_once("\r\n\r\n").unwrap();
        for header in ["MIME-Version: 1.0", "Message-ID: <", "Date: "] {
            assert!(
                head.lines().any(|l| l.starts_with(header)),
                "no `{header}` in\n{head}"
            );
        }
        assert!(
            text.contains("Content-Type: text/plain; charset=utf-8"),
            "no charset in\n{text}"
        );
        let encoding = text
            .lines()
            .find_map(|l| l.strip_prefix("Content-Transfer-Encoding: "))
            .unwrap();
        assert!(
            ["quoted-printable", "base64"].contains(&encoding),
            "{encoding}"
        );
    }
}
