//! E-mail notices (lettre): when a package's protocol is ready, the sender's contact address
//! gets the outcome and the count of findings. `[mail] transport` picks how: `file` (the
//! default: one `.eml` file per message in `mail.file_dir`, for a machine without a mail
//! server), `smtp` (production: `mail.smtp_host`, `smtp_port`, `smtp_security`, optional
//! credentials), or `off`.

use std::path::PathBuf;

use lettre::message::Mailbox;
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

    /// Sends one plain-text message to `to`.
    pub fn send(&self, to: &str, subject: &str, body: &str) -> anyhow::Result<()> {
        let to: Mailbox = to
            .parse()
            .map_err(|e| anyhow::anyhow!("`{to}` is not an e-mail address: {e}"))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .body(body.to_owned())?;
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
