//! The portal with `--smtp`: emails go out for real through a local relay
//! (Debian's aiosmtpd on loopback) with the notifier `main` builds, and the
//! PIN read from the delivered mail signs the user in. Skips with a reason
//! when aiosmtpd is missing, except under `CI=true`.

#[allow(dead_code)]
#[path = "../examples/portal/app.rs"]
mod app;
#[path = "../examples/local_smtp/mod.rs"]
mod local_smtp;
mod peers;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use chrono::{TimeZone, Utc};
use peers::{SmtpSink, pin_after};
use pin_activation::{ActivationConfig, ManualClock, NewUser, OutboxNotifier, Password, SqliteStore};
use tower::ServiceExt;

async fn get(router: &axum::Router, path: &str, cookie: Option<&str>) -> (Option<String>, String) {
    let mut req = Request::get(path);
    if let Some(c) = cookie {
        req = req.header(header::COOKIE, c);
    }
    let res = router.clone().oneshot(req.body(Body::empty()).unwrap()).await.unwrap();
    let set = res.headers().get(header::SET_COOKIE).map(|v| {
        let v = v.to_str().unwrap();
        v.split(';').next().unwrap().to_owned()
    });
    let body = axum::body::to_bytes(res.into_body(), usize::MAX).await.unwrap();
    (set, String::from_utf8(body.to_vec()).unwrap())
}

#[tokio::test]
async fn emails_go_out_through_smtp_and_their_pin_signs_the_user_in() {
    let Some(sink) = SmtpSink::start() else { return };
    let outbox = OutboxNotifier::new_ok();
    let relay = format!("127.0.0.1:{}", sink.port);
    let from = "Lakeside Self Storage <no-reply@lakeside-storage.example>";
    let notifier = local_smtp::notifier(Some(&relay), from, &outbox).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::connect(&format!("sqlite://{}", dir.path().join("portal.db").display()))
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let config = app::AppConfig {
        activation: ActivationConfig::for_tests(),
        staff: app::StaffSeed {
            name: "Front Desk".into(),
            email: "desk@lakeside.example".into(),
            password: Password::new("copper kettle harbour gate"),
        },
        secure_cookies: false,
        clock: Arc::new(ManualClock::new(Utc.with_ymd_and_hms(2026, 12, 3, 9, 0, 0).unwrap())),
        outbox,
        notifier: Some(notifier),
    };
    let portal = app::build(store.clone(), store, config).await.unwrap();
    portal
        .service
        .create_user(
            NewUser::new("Tess Tenant").email("tess@example.com"),
            Some(&portal.staff_id),
        )
        .await
        .unwrap();

    // The staff seed and the tenant: two mails really sent.
    let mails: Vec<String> = sink
        .messages()
        .into_iter()
        .map(|m| String::from_utf8_lossy(&m).into_owned())
        .collect();
    assert_eq!(mails.len(), 2);
    let mail = mails.iter().find(|m| m.contains("To: tess@example.com")).unwrap();
    let pin = pin_after(mail, "Your one-time PIN is: ");

    // The Outbox page says these are copies.
    let (cookie, page) = get(&portal.router, "/outbox", None).await;
    assert!(page.contains("The emails also went out by SMTP"), "{page}");
    let cookie = cookie.unwrap();

    // The PIN from the mail signs Tess in.
    let (_, page) = get(&portal.router, "/signin", Some(&cookie)).await;
    let marker = r#"name="csrf" value=""#;
    let at = page.find(marker).unwrap() + marker.len();
    let csrf = &page[at..at + 64];
    let form =
        serde_urlencoded::to_string([("csrf", csrf), ("identifier", "tess@example.com"), ("password", &pin)]).unwrap();
    let res = portal
        .router
        .clone()
        .oneshot(
            Request::post("/signin")
                .header(header::COOKIE, &cookie)
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(form))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()[header::LOCATION], "/new-password");
}
