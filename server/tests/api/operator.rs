//! The operator's commands, run as the real binary against real databases:
//! a populated SQLite chat moved into PostgreSQL and served from there;
//! backups taken while messages are being written, served, and restored.
//! (SQLite sources whichever store the run is on; the target is the test
//! PostgreSQL server.)

use crate::accounts::{PASSWORD, get, log_in, post, sign_up, signed_in_client};
use crate::actions::{edit, react};
use crate::common::*;
use crate::e2e::{publish, rekey, room_keys, sealed};
use crate::media::{fetch_as, join_for_media, png, send_with, uploaded};
use app::protocol::{ClientFrame, ErrorCode, ServerFrame};
use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_server"))
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("the server binary runs")
}

fn said(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn lines(log: &[app::messages::Entry]) -> Vec<String> {
    log.iter()
        .map(|e| format!("{} {}", e.seq, line(e)))
        .collect()
}

#[tokio::test]
async fn a_sqlite_chat_moves_to_postgresql_whole_and_is_served_from_there() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = format!("sqlite://{}", dir.path().join("chat.db").display());
    let media = dir.path().join("media").display().to_string();
    let old = TestApp {
        server: start_with(sqlite.clone(), &["--media-store", &media]).await,
        db: sqlite.clone(),
        dir: tempfile::tempdir().unwrap(),
    };

    // Every kind of entry, by accounts and guests.
    let sadia_cookie = sign_up(&old, "sadia", PASSWORD).await;
    let usman_cookie = sign_up(&old, "usman", PASSWORD).await;
    let mut sadia = signed_in_client(&old, &sadia_cookie).await;
    sadia.join("main", "sadia").await;
    let mut lerato = old.client().await;
    lerato.join("main", "lerato").await;
    let first = sadia.say("main", "welcome to the garden").await;
    lerato
        .reply("main", first, "thanks, lovely plans <b>for</b> spring")
        .await;
    sadia
        .send_frame(&edit(first, "welcome to the rose garden"))
        .await;
    lerato.hear_action().await;
    lerato.send_frame(&react(first, "👍", true)).await;
    sadia.hear_action().await;
    let oops = lerato.say("main", "oops, wrong room").await;
    lerato
        .send_frame(&ClientFrame::Delete {
            room: room("main"),
            target: oops,
        })
        .await;
    sadia.hear_action().await;
    // Moderation: a moderator named, a guest banned.
    let named = post(
        &old,
        "/account/moderators",
        &[("room", "main"), ("name", "usman"), ("on", "on")],
        Some(&sadia_cookie),
    )
    .await;
    assert_eq!(named.status, 303, "{}", named.body);
    let mut mehmet = old.client().await;
    mehmet.join("main", "mehmet").await;
    let spam = mehmet.say("main", "cheap watches").await;
    sadia
        .send_frame(&ClientFrame::Ban {
            room: room("main"),
            target: spam,
        })
        .await;
    assert_eq!(mehmet.refusal().await, ErrorCode::Banned);
    // A picture, with its thumbnail.
    let mut thandi = old.client().await;
    let grant = join_for_media(&mut thandi, "main", "thandi").await;
    let picture = uploaded(&old, &grant.key, "harbour.png", png(800, 600)).await;
    send_with(&mut thandi, "main", "the harbour", &[&picture.id]).await;
    lerato.hear("the harbour").await;
    // An encrypted conversation: devices, an epoch's wrapped keys, a sealed body.
    let dm = get(&old, "/dm/usman", Some(&sadia_cookie)).await;
    let dm = dm.location().strip_prefix("/r/").unwrap().to_owned();
    assert_eq!(publish(&old, &sadia_cookie, "sadia1").await.status, 200);
    assert_eq!(publish(&old, &usman_cookie, "usman1").await.status, 200);
    assert_eq!(rekey(&old, &sadia_cookie, &dm, "sadia1").await, 1);
    let mut her = signed_in_client(&old, &sadia_cookie).await;
    her.join(&dm, "sadia").await;
    let secret = sealed(1, "sadia1", "bGF1bmNo");
    her.say(&dm, &secret).await;
    let before_last = lerato.say("main", "one more before the move").await;
    let last = lerato.say("main", "last words before the move").await;

    let main_before = lines(&log_of(&old, "main").await);
    let dm_before = lines(&log_of(&old, &dm).await);
    let mehmet_session = mehmet.session.clone();
    drop((sadia, mehmet, thandi, her));
    old.server.shutdown().await.unwrap();

    let pg = fresh_postgres_database().await;
    // The files move too, to the new servers' blob store.
    let moved = dir.path().join("moved media").display().to_string();
    let migrated = run(&[
        "migrate",
        "--from",
        &sqlite,
        "--to",
        &pg,
        "--media-from",
        &media,
        "--media-to",
        &moved,
    ]);
    let report = said(&migrated);
    assert!(migrated.status.success(), "{report}");
    assert!(
        report.contains("entries: ") && report.contains("rows/s"),
        "{report}"
    );
    assert!(
        report.contains("rooms' logs have the same SHA-256 on both sides  ok"),
        "{report}"
    );
    assert!(!report.contains("DIFFERENT"), "{report}");
    assert!(report.contains("Migration complete"), "{report}");
    assert!(
        report.contains("files: 2 copied"),
        "a picture and its thumbnail: {report}"
    );
    // Once done, the target holds a chat: a second run is refused.
    let again = run(&["migrate", "--from", &sqlite, "--to", &pg]);
    assert!(!again.status.success());
    assert!(
        said(&again).contains("already holds a chat"),
        "{}",
        said(&again)
    );

    let new = TestApp {
        server: start_with(pg.clone(), &["--media-store", &moved]).await,
        db: pg.clone(),
        dir: tempfile::tempdir().unwrap(),
    };
    // The same history, the same seqs.
    assert_eq!(lines(&log_of(&new, "main").await), main_before);
    assert_eq!(lines(&log_of(&new, &dm).await), dm_before);
    let (_, results) = new.get("/search?q=plans&room=main").await;
    assert!(
        results.contains("<mark>plans"),
        "the search index is rebuilt: {results}"
    );

    // Old passwords log in; old sessions stay signed in.
    assert_eq!(log_in(&new, "sadia", PASSWORD).await.status, 303);
    let account = get(&new, "/account", Some(&usman_cookie)).await;
    assert_eq!(account.status, 200);
    assert!(account.body.contains("usman"), "{}", account.body);
    // New accounts take new ids (sign-up would fail on a taken one).
    sign_up(&new, "kofi", PASSWORD).await;

    // lerato's tab, which had read up to `before_last`, resumes with no gap
    // and no repeat (and its nickname waited for it), and the log goes on
    // after the old head.
    let mut back = new.client().await;
    back.carry_on_from(&lerato);
    back.join_since("main", "lerato", Some(before_last)).await;
    let replay = back.recv_until(|f| entry_seq(f) == Some(last)).await;
    assert!(
        replay
            .iter()
            .all(|f| !matches!(f, ServerFrame::Joined { reset: true, .. })),
        "{replay:?}"
    );
    let seqs: Vec<_> = replay.iter().filter_map(entry_seq).collect();
    assert_eq!(seqs, vec![last], "only what it had not read: {replay:?}");
    assert_eq!(last, before_last + 1);
    let next = back.say("main", "hello from postgres").await;
    assert!(next > last);
    let log: Vec<_> = log_of(&new, "main").await.iter().map(|e| e.seq).collect();
    assert!(log.windows(2).all(|w| w[1] == w[0] + 1), "{log:?}");
    assert_eq!(log.last(), Some(&next));

    // Moderators, bans, media and keys came along.
    let mut usman = signed_in_client(&new, &usman_cookie).await;
    assert!(matches!(
        usman.try_join("main", "usman").await,
        ServerFrame::Joined {
            moderator: true,
            ..
        }
    ));
    let mut banned = new.client().await;
    banned.session = mehmet_session;
    assert_eq!(
        error_code(&banned.try_join("main", "mehmet").await),
        Some(ErrorCode::Banned)
    );
    let mut viewer = new.client().await;
    let grant = join_for_media(&mut viewer, "main", "ines").await;
    let full = fetch_as(
        &new,
        &grant.key,
        &format!("/media/{}", picture.id.as_str()),
        &[],
    )
    .await;
    assert_eq!(full.status(), 200);
    let bytes = full.bytes().await.unwrap();
    let decoded = image::load_from_memory(&bytes).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (800, 600));
    let (status, keys) = room_keys(&new, &usman_cookie, &dm, "usman1").await;
    let keys = keys.unwrap_or_else(|| panic!("room keys: {status}"));
    assert_eq!((keys.current, keys.latest), (1, 1));
}

#[tokio::test]
async fn a_backup_taken_while_messages_are_written_holds_every_acknowledged_one_and_restores() {
    use std::sync::{Arc, Mutex};
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("chat.db");
    let sqlite = format!("sqlite://{}", file.display());
    let app = TestApp {
        server: start_with(sqlite.clone(), UNLIMITED).await,
        db: sqlite.clone(),
        dir: tempfile::tempdir().unwrap(),
    };
    // A writer keeps sending; what was acknowledged is recorded as it comes.
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut writer = app.client().await;
    writer.join("main", "ruth").await;
    let writing = tokio::spawn({
        let (acked, stop) = (acked.clone(), stop.clone());
        async move {
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                n += 1;
                let text = format!("m{n}");
                writer.say("main", &text).await;
                acked.lock().unwrap().push(text);
            }
            writer
        }
    });
    let acked_count = || acked.lock().unwrap().len();
    while acked_count() < 20 {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }

    let backup = dir.path().join("backup.db");
    let before = acked.lock().unwrap().clone();
    let args = [
        "backup",
        "--database-url",
        &sqlite,
        "--to",
        backup.to_str().unwrap(),
    ];
    // On a thread of its own: the server (in this process) keeps serving.
    let taken = {
        let args = args.map(str::to_owned);
        tokio::task::spawn_blocking(move || {
            run(&args.iter().map(String::as_str).collect::<Vec<_>>())
        })
        .await
        .unwrap()
    };
    let after = acked_count();
    while acked_count() < after + 5 {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let _writer = writing.await.unwrap();
    assert!(taken.status.success(), "{}", said(&taken));
    assert!(said(&taken).contains("Backed up to"), "{}", said(&taken));
    let all = acked.lock().unwrap().clone();
    assert!(
        all.len() > before.len(),
        "messages were being written before and during the backup ({} then {})",
        before.len(),
        all.len()
    );
    // A backup never overwrites a file.
    assert!(!run(&args).status.success());

    // A server started on the backup serves every message acknowledged
    // before the backup began.
    let copy = format!("sqlite://{}", backup.display());
    let served = TestApp {
        server: start_with(copy.clone(), &[]).await,
        db: copy,
        dir: tempfile::tempdir().unwrap(),
    };
    let kept: Vec<String> = log_of(&served, "main")
        .await
        .iter()
        .filter_map(|e| match &e.kind {
            app::messages::EntryKind::Message { body, .. } => Some(body.as_str().to_owned()),
            _ => None,
        })
        .collect();
    assert_eq!(kept[..before.len()], before[..]);
    assert!(kept.len() <= all.len(), "nothing invented");
    served.server.shutdown().await.unwrap();

    app.server.shutdown().await.unwrap();

    // Restoring needs the server stopped, and says so. (Another database,
    // served by the binary: a stopped process lets go of its file for sure.)
    let live = dir.path().join("live.db");
    let live_url = format!("sqlite://{}", live.display());
    let (mut server, addr) = start_binary(&live_url, &[]);
    let mut lerato = Client::connect(addr).await;
    lerato.join("main", "lerato").await;
    lerato.say("main", "said after the backup").await;
    let restore = [
        "restore",
        "--from",
        backup.to_str().unwrap(),
        "--database-url",
        &live_url,
    ];
    let refused = run(&restore);
    assert!(!refused.status.success());
    assert!(
        said(&refused).contains("stop its server"),
        "{}",
        said(&refused)
    );
    server.kill().unwrap();
    server.wait().unwrap();
    let restored = run(&restore);
    let report = said(&restored);
    assert!(restored.status.success(), "{report}");
    // What it replaced is kept beside it, whole.
    let aside = report
        .split("the database it replaced is ")
        .nth(1)
        .unwrap_or_else(|| panic!("{report}"))
        .trim();
    let replaced = read_rows_at(
        &format!("sqlite://{aside}"),
        "SELECT body FROM entries WHERE kind = 'message'",
    )
    .await;
    assert_eq!(replaced, vec![vec!["said after the backup".to_owned()]]);
    let back = TestApp {
        server: start_with(live_url.clone(), &[]).await,
        db: live_url.clone(),
        dir: tempfile::tempdir().unwrap(),
    };
    let messages = |log: Vec<app::messages::Entry>| {
        log.iter()
            .filter(|e| matches!(e.kind, app::messages::EntryKind::Message { .. }))
            .count()
    };
    assert_eq!(messages(log_of(&back, "main").await), kept.len());
    back.server.shutdown().await.unwrap();

    // A file that is not a chat database is refused.
    let junk = dir.path().join("junk.db");
    std::fs::write(&junk, b"not a database at all").unwrap();
    let refused = run(&[
        "restore",
        "--from",
        junk.to_str().unwrap(),
        "--database-url",
        &format!("sqlite://{}", dir.path().join("other.db").display()),
    ]);
    assert!(!refused.status.success());
    assert!(
        said(&refused).contains("not a database"),
        "{}",
        said(&refused)
    );
}

/// `server admin ARGS` on `app`'s database, with `input` on its standard input.
async fn admin(app: &TestApp, args: &[&str], input: &str) -> (bool, String) {
    use std::io::Write;
    let mut command = Command::new(env!("CARGO_BIN_EXE_server"));
    command
        .args(["admin", "--database-url", &app.db])
        .args(args)
        .env("RUST_LOG", "warn")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let input = input.to_owned();
    tokio::task::spawn_blocking(move || {
        let mut child = command.spawn().expect("the server binary runs");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        let output = child.wait_with_output().unwrap();
        (output.status.success(), said(&output))
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn admin_commands_fix_accounts_and_rooms_of_a_running_chat() {
    let app = spawn_app_with(&["--ended-sessions-check-ms", "200"]).await;
    let sadia = sign_up(&app, "sadia", PASSWORD).await;
    let usman = sign_up(&app, "usman", PASSWORD).await;
    let mut owner = signed_in_client(&app, &sadia).await;
    owner.join("main", "sadia").await;
    let mut his = signed_in_client(&app, &usman).await;
    his.join("main", "usman").await;
    his.say("main", "hello from usman").await;

    let (ok, accounts) = admin(&app, &["accounts"], "").await;
    assert!(ok, "{accounts}");
    assert!(
        accounts.contains("sadia") && accounts.contains("usman"),
        "{accounts}"
    );
    assert!(accounts.contains("(2 in all)"), "{accounts}");
    let (ok, rooms) = admin(&app, &["rooms"], "").await;
    assert!(ok, "{rooms}");
    let main = rooms
        .lines()
        .find(|l| l.starts_with("main "))
        .unwrap_or_else(|| panic!("{rooms}"));
    assert!(main.contains("public") && main.contains("sadia"), "{rooms}");

    // A new account, its password from standard input, under the sign-up rules.
    let (ok, said) = admin(&app, &["create-account", "kemal"], "a long enough secret\n").await;
    assert!(ok, "{said}");
    assert_eq!(
        log_in(&app, "kemal", "a long enough secret").await.status,
        303
    );
    let (ok, said) = admin(&app, &["create-account", "SADIA"], "a long enough secret\n").await;
    assert!(!ok && said.contains("taken"), "{said}");
    let (ok, said) = admin(&app, &["create-account", "farida"], "short\n").await;
    assert!(!ok && said.contains("password"), "{said}");
    let (ok, said) = admin(&app, &["reset-password", "nobody"], "whatever it is\n").await;
    assert!(!ok && said.contains("no account is named nobody"), "{said}");

    // Moderators and owners, as the next join reads them.
    let (ok, said) = admin(&app, &["moderator", "main", "usman"], "").await;
    assert!(ok, "{said}");
    let mut again = signed_in_client(&app, &usman).await;
    assert!(matches!(
        again.try_join("main", "usman2").await,
        ServerFrame::Joined {
            moderator: true,
            ..
        }
    ));
    let (ok, said) = admin(&app, &["moderator", "main", "usman", "--remove"], "").await;
    assert!(ok, "{said}");
    let mut again = signed_in_client(&app, &usman).await;
    assert!(matches!(
        again.try_join("main", "usman3").await,
        ServerFrame::Joined {
            moderator: false,
            ..
        }
    ));
    let (ok, said) = admin(&app, &["owner", "main", "kemal"], "").await;
    assert!(ok, "{said}");
    let (_, rooms) = admin(&app, &["rooms"], "").await;
    assert!(
        rooms
            .lines()
            .any(|l| l.starts_with("main ") && l.contains("kemal")),
        "{rooms}"
    );
    let (ok, said) = admin(&app, &["owner", "main", "--none"], "").await;
    assert!(ok, "{said}");

    // Bans hold from the next join; lifted, the door opens again.
    let (ok, said) = admin(&app, &["ban", "main", "usman"], "").await;
    assert!(ok, "{said}");
    let mut banned = signed_in_client(&app, &usman).await;
    assert_eq!(
        error_code(&banned.try_join("main", "usman").await),
        Some(ErrorCode::Banned)
    );
    let (ok, said) = admin(&app, &["unban", "main", "usman"], "").await;
    assert!(ok, "{said}");
    let mut back = signed_in_client(&app, &usman).await;
    assert!(matches!(
        back.try_join("main", "usman4").await,
        ServerFrame::Joined { .. }
    ));

    // Sessions that still exist keep their sockets through the sweeps.
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    his.say("main", "still here after the sweeps").await;

    // A reset password ends every session: open sockets close, the old
    // password no longer works, the new one does.
    let (ok, said) = admin(&app, &["reset-password", "usman"], "the new secret words\n").await;
    assert!(ok, "{said}");
    assert_eq!(his.close_code().await, Some(4003));
    assert_eq!(back.close_code().await, Some(4003));
    assert_eq!(get(&app, "/account", Some(&usman)).await.status, 303);
    assert_ne!(log_in(&app, "usman", PASSWORD).await.status, 303);
    assert_eq!(
        log_in(&app, "usman", "the new secret words").await.status,
        303
    );

    // Deleting an account keeps its messages, under "deleted user".
    let (ok, said) = admin(&app, &["delete-account", "usman"], "").await;
    assert!(ok, "{said}");
    assert_ne!(
        log_in(&app, "usman", "the new secret words").await.status,
        303
    );
    let log = log_of(&app, "main").await;
    assert!(
        log.iter()
            .any(|e| line(e) == "deleted user: hello from usman"),
        "{:?}",
        log.iter().map(line).collect::<Vec<_>>()
    );
    let (_, accounts) = admin(&app, &["accounts"], "").await;
    assert!(!accounts.contains("usman"), "{accounts}");
}

#[tokio::test]
async fn an_interrupted_migration_resumes_where_it_stopped_and_copies_each_entry_once() {
    use sqlx::Connection;
    let dir = tempfile::tempdir().unwrap();
    let sqlite = format!("sqlite://{}", dir.path().join("chat.db").display());
    // A server makes the schema and a room; the log is then filled in bulk.
    let app = TestApp {
        server: start_with(sqlite.clone(), &[]).await,
        db: sqlite.clone(),
        dir: tempfile::tempdir().unwrap(),
    };
    let mut sadia = app.client().await;
    sadia.join("main", "sadia").await;
    let head = sadia.say("main", "before the bulk").await;
    app.server.shutdown().await.unwrap();
    let mut db = sqlx::SqliteConnection::connect(&sqlite).await.unwrap();
    sqlx::query(
        "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 200000)
         INSERT INTO entries (room_id, seq, at, nick, kind, client_id, body, author)
         SELECT (SELECT id FROM rooms WHERE name = 'main'), $1 + x, 1700000000000 + x, 'sadia',
                'message', 'bulk-' || x, 'bulk message ' || x, 'guest:bulk'
         FROM n",
    )
    .bind(head as i64)
    .execute(&mut db)
    .await
    .unwrap();
    db.close().await.unwrap();

    // Stopped hard (kill -9) once some batches are in.
    let pg = fresh_postgres_database().await;
    let mut first = Command::new(env!("CARGO_BIN_EXE_server"))
        .args([
            "migrate",
            "--from",
            &sqlite,
            "--to",
            &pg,
            "--batch-rows",
            "500",
        ])
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let progress = "SELECT COALESCE((SELECT CAST(copied AS TEXT) FROM chat_migration_tables
                     WHERE name = 'entries'), '0')";
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let copied = sqlx::PgConnection::connect(&pg)
            .await
            .ok()
            .map(|mut conn| async move {
                sqlx::query_scalar::<_, String>(progress)
                    .fetch_one(&mut conn)
                    .await
                    .ok()
            });
        let copied = match copied {
            Some(reading) => reading.await.unwrap_or_default(),
            None => String::new(),
        };
        if copied.parse::<u64>().unwrap_or(0) >= 5000 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no progress");
        assert!(
            first.try_wait().unwrap().is_none(),
            "it finished before it could be stopped"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    first.kill().unwrap();
    first.wait().unwrap();

    let second = run(&["migrate", "--from", &sqlite, "--to", &pg]);
    let report = said(&second);
    assert!(second.status.success(), "{report}");
    assert!(
        report.contains("Resuming the unfinished migration"),
        "{report}"
    );
    assert!(report.contains("copied before"), "{report}");
    assert!(
        report.contains(&format!(
            "entries: {} rows in SQLite, {} in PostgreSQL  ok",
            200_001 + 1,
            200_001 + 1
        )),
        "each entry once (sadia's join, her message, the bulk): {report}"
    );
    assert!(report.contains("have the same SHA-256"), "{report}");
}
