//! E-mail notices through a real SMTP server on 127.0.0.1: Python's aiosmtpd (`PyPI` or Debian's
//! python3-aiosmtpd; `.ci/test` installs it), started here with its Mailbox handler, which
//! stores every message it receives in a maildir the test reads back.

use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use omshub::config::{MailSecurity, MailSettings, MailTransport};
use omshub::notify::Mailer;

/// A running aiosmtpd, stopped when dropped.
struct SmtpServer {
    child: Child,
    port: u16,
}

impl SmtpServer {
    fn start(maildir: &std::path::Path) -> Self {
        let python = std::env::var("OMSHUB_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(&python)
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(maildir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start `{python} -m aiosmtpd` ({e}); install it: pip install aiosmtpd"
                )
            });
        let server = Self { child, port };
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "aiosmtpd did not listen on 127.0.0.1:{port}; is it installed (pip install aiosmtpd)?"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        server
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn settings(transport: MailTransport, port: u16, file_dir: &std::path::Path) -> MailSettings {
    MailSettings {
        transport,
        from: "omshub@hub.test".into(),
        file_dir: file_dir.to_owned(),
        smtp_host: "127.0.0.1".into(),
        smtp_port: port,
        smtp_security: MailSecurity::None,
        smtp_user: String::new(),
        smtp_password: String::new(),
    }
}

/// Every message file the maildir holds (new/ and cur/).
fn messages(maildir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    for sub in ["new", "cur"] {
        if let Ok(entries) = std::fs::read_dir(maildir.join(sub)) {
            for e in entries {
                out.push(std::fs::read_to_string(e.unwrap().path()).unwrap());
            }
        }
    }
    out
}

#[test]
fn a_notice_reaches_a_real_smtp_server() {
    let dir = tempfile::tempdir().unwrap();
    let maildir = dir.path().join("maildir");
    let server = SmtpServer::start(&maildir);
    let mailer =
        Mailer::from_settings(&settings(MailTransport::Smtp, server.port, dir.path())).unwrap();
    mailer
        .send(
            "clinic-750096@example.test",
            "Protocol ready: HM750096T75_26011.zip accepted",
            "Package HM750096T75_26011.zip: accepted, 0 findings.",
        )
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let got = loop {
        let got = messages(&maildir);
        if !got.is_empty() || Instant::now() > deadline {
            break got;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(
        got[0].contains("To: clinic-750096@example.test"),
        "{}",
        got[0]
    );
    assert!(got[0].contains("Subject: Protocol ready: HM750096T75_26011.zip accepted"));
    assert!(got[0].contains("accepted, 0 findings"));
    // A complete MIME message, as mail clients and the receiving servers' filters expect.
    for header in [
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
        "Message-ID: <",
        "Date: ",
    ] {
        assert!(got[0].contains(header), "no `{header}` in\n{}", got[0]);
    }
}

#[test]
fn the_file_transport_writes_one_message_per_notice_and_a_bad_address_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let mailer = Mailer::from_settings(&settings(MailTransport::File, 25, dir.path())).unwrap();
    mailer
        .send(
            "fund-75@example.test",
            "Protocol ready",
            "rejected, 3 findings",
        )
        .unwrap();
    let files: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(files.len(), 1);
    let text = std::fs::read_to_string(files[0].as_ref().unwrap().path()).unwrap();
    assert!(text.contains("rejected, 3 findings"), "{text}");
    assert!(mailer.send("not an address", "s", "b").is_err());
}
