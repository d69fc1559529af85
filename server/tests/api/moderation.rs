//! Moderation: a room's owner (and the moderators they name on the account
//! page) delete anyone's message, remove people and ban them; bans hold
//! across reconnects (and servers: see `cluster`).

use crate::accounts::{PASSWORD, get, post, sign_up, signed_in_client};
use crate::common::*;
use app::protocol::{ClientFrame, ErrorCode, ServerFrame};

fn moderator_flag(frame: &ServerFrame) -> Option<bool> {
    match frame {
        ServerFrame::Joined { moderator, .. } => Some(*moderator),
        _ => None,
    }
}

/// Sadia (an account) creates #club and owns it; zara is a guest in it.
async fn owner_and_guest(app: &TestApp) -> (String, Client, Client) {
    let cookie = sign_up(app, "sadia", PASSWORD).await;
    let mut sadia = signed_in_client(app, &cookie).await;
    assert_eq!(
        moderator_flag(&sadia.try_join("club", "sadia").await),
        Some(true)
    );
    let mut usman = app.client().await;
    assert_eq!(
        moderator_flag(&usman.try_join("club", "zara").await),
        Some(false)
    );
    (cookie, sadia, usman)
}

#[tokio::test]
async fn the_owner_deletes_anyones_message_and_others_cannot() {
    let app = spawn_app().await;
    let (_, mut sadia, mut usman) = owner_and_guest(&app).await;
    let mine = sadia.say("club", "house rules").await;
    let spam = usman.say("club", "buy cheap watches").await;

    usman
        .send_frame(&ClientFrame::Delete {
            room: room("club"),
            target: mine,
        })
        .await;
    assert_eq!(usman.refusal().await, ErrorCode::NotYours);
    sadia
        .send_frame(&ClientFrame::Delete {
            room: room("club"),
            target: spam,
        })
        .await;
    assert_eq!(
        line(&usman.hear_action().await),
        format!("sadia deleted {spam}")
    );
    let log = log_of(&app, "club").await;
    assert!(log.iter().all(|e| !line(e).contains("watches")), "{log:?}");
}

#[tokio::test]
async fn a_removed_person_is_told_and_may_come_back_but_a_banned_one_may_not() {
    let app = spawn_app().await;
    let (_, mut sadia, mut usman) = owner_and_guest(&app).await;
    let said = usman.say("club", "hello?").await;

    // A guest cannot moderate.
    usman
        .send_frame(&ClientFrame::Remove {
            room: room("club"),
            target: said,
        })
        .await;
    assert_eq!(usman.refusal().await, ErrorCode::NotModerator);

    sadia
        .send_frame(&ClientFrame::Remove {
            room: room("club"),
            target: said,
        })
        .await;
    assert_eq!(usman.refusal().await, ErrorCode::Removed);
    sadia.recv_until(|f| says(f, "zara left")).await;
    // Removed is not banned: the same tab joins again.
    assert!(matches!(
        usman.try_join("club", "zara").await,
        ServerFrame::Joined { .. }
    ));

    sadia
        .send_frame(&ClientFrame::Ban {
            room: room("club"),
            target: said,
        })
        .await;
    assert_eq!(usman.refusal().await, ErrorCode::Banned);
    assert_eq!(
        error_code(&usman.try_join("club", "zara").await),
        Some(ErrorCode::Banned)
    );
    // Nor under another name, nor from another connection of the same tab.
    let mut again = app.client().await;
    again.carry_on_from(&usman);
    assert_eq!(
        error_code(&again.try_join("club", "someone-else").await),
        Some(ErrorCode::Banned)
    );
    // Other rooms are not affected.
    assert!(matches!(
        again.try_join("elsewhere", "usman").await,
        ServerFrame::Joined { .. }
    ));
    // The owner cannot be removed by anyone, not even by themselves.
    let own = sadia.say("club", "still mine").await;
    sadia
        .send_frame(&ClientFrame::Ban {
            room: room("club"),
            target: own,
        })
        .await;
    assert_eq!(sadia.refusal().await, ErrorCode::NotModerator);
}

#[tokio::test]
async fn the_owner_names_moderators_on_the_account_page() {
    let app = spawn_app().await;
    let (owner, mut sadia, mut guest) = owner_and_guest(&app).await;
    let usman_cookie = sign_up(&app, "usman", PASSWORD).await;
    let said = guest.say("club", "spam spam").await;

    let mut usman = signed_in_client(&app, &usman_cookie).await;
    assert_eq!(
        moderator_flag(&usman.try_join("club", "usman").await),
        Some(false)
    );
    usman
        .send_frame(&ClientFrame::Delete {
            room: room("club"),
            target: said,
        })
        .await;
    assert_eq!(usman.refusal().await, ErrorCode::NotYours);

    // Only the owner names moderators, and only accounts can be named.
    let not_owner = post(
        &app,
        "/account/moderators",
        &[("room", "club"), ("name", "usman"), ("on", "on")],
        Some(&usman_cookie),
    )
    .await;
    assert_eq!(not_owner.status, 403);
    let nobody = post(
        &app,
        "/account/moderators",
        &[("room", "club"), ("name", "ghost"), ("on", "on")],
        Some(&owner),
    )
    .await;
    assert_eq!(nobody.status, 400);
    assert!(
        nobody.body.contains("No account is named ghost"),
        "{}",
        nobody.body
    );
    let named = post(
        &app,
        "/account/moderators",
        &[("room", "club"), ("name", "USMAN"), ("on", "on")],
        Some(&owner),
    )
    .await;
    assert_eq!(named.status, 303);
    let page = get(&app, "/account", Some(&owner)).await;
    assert!(page.body.contains("Moderators: usman."), "{}", page.body);

    // At once, without joining again.
    usman
        .send_frame(&ClientFrame::Delete {
            room: room("club"),
            target: said,
        })
        .await;
    assert_eq!(
        line(&sadia.hear_action().await),
        format!("usman deleted {said}")
    );
    assert_eq!(
        moderator_flag(&usman.try_join("club", "usman").await),
        Some(true)
    );
    // A moderator cannot send the owner out.
    let rules = sadia.say("club", "rules").await;
    usman
        .send_frame(&ClientFrame::Remove {
            room: room("club"),
            target: rules,
        })
        .await;
    assert_eq!(usman.refusal().await, ErrorCode::NotModerator);

    let unnamed = post(
        &app,
        "/account/moderators",
        &[("room", "club"), ("name", "usman"), ("on", "off")],
        Some(&owner),
    )
    .await;
    assert_eq!(unnamed.status, 303);
    let more = guest.say("club", "more spam").await;
    usman
        .send_frame(&ClientFrame::Delete {
            room: room("club"),
            target: more,
        })
        .await;
    assert_eq!(usman.refusal().await, ErrorCode::NotYours);
}
