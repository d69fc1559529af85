//! How long WebCrypto takes for what an encrypted conversation does, in
//! headless Chromium: a measurement run by hand, not part of the test
//! command (docs/PERFORMANCE.md, "End-to-end encryption"). Each figure is
//! printed; what is asserted is only that every round trip comes back
//! whole.
//!
//! `CHROMEDRIVER=/usr/bin/chromedriver cargo test --release -p app
//! --target wasm32-unknown-unknown --features hydrate --test e2e_timing
//! -- --nocapture`

#![cfg(all(target_arch = "wasm32", feature = "hydrate"))]

use app::e2e::crypto;
use app::e2e::{DeviceId, additional_data};
use app::rooms::RoomName;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn now() -> f64 {
    js_sys::Date::now()
}

fn context() -> Vec<u8> {
    additional_data(
        &RoomName::parse("~timing-abcdefghij").unwrap(),
        1,
        &DeviceId::parse("aaaaaaaaaaaaaaaa").unwrap(),
    )
}

#[wasm_bindgen_test]
async fn sealing_and_opening_messages_and_a_ten_megabyte_file() {
    let key = crypto::room_key().await.unwrap();
    let ad = context();
    let message =
        "a message of a typical length, with an emoji 🎉 and a link https://example.org/x "
            .repeat(3);
    let rounds = 500;
    let started = now();
    let mut sealed = Vec::new();
    for _ in 0..rounds {
        sealed.push(crypto::seal(&key, message.as_bytes(), &ad).await.unwrap());
    }
    let sealing = now() - started;
    let started = now();
    for (iv, body) in &sealed {
        let plain = crypto::open(&key, iv, body, &ad).await.unwrap();
        assert_eq!(plain.len(), message.len());
    }
    let opening = now() - started;
    console_log!(
        "message of {} bytes: seal {:.3} ms, open {:.3} ms (mean of {rounds})",
        message.len(),
        sealing / f64::from(rounds),
        opening / f64::from(rounds)
    );

    let file: Vec<u8> = (0..10 * 1024 * 1024).map(|i| (i % 251) as u8).collect();
    let started = now();
    let (iv, body) = crypto::seal(&key, &file, &ad).await.unwrap();
    let sealing = now() - started;
    let started = now();
    let plain = crypto::open(&key, &iv, &body, &ad).await.unwrap();
    let opening = now() - started;
    assert_eq!(plain, file);
    console_log!("10 MiB file: seal {sealing:.0} ms, open {opening:.0} ms");
}

#[wasm_bindgen_test]
async fn a_new_epoch_for_ten_devices() {
    let maker = crypto::agreement_pair().await.unwrap();
    let mut devices = Vec::new();
    for _ in 0..10 {
        devices.push(crypto::agreement_pair().await.unwrap());
    }
    let rounds = 20;
    let started = now();
    for _ in 0..rounds {
        let key = crypto::room_key().await.unwrap();
        for device in &devices {
            crypto::wrap(&key, &maker.private, &device.public, &context())
                .await
                .unwrap();
        }
    }
    let making = now() - started;
    let key = crypto::room_key().await.unwrap();
    let (iv, wrapped) = crypto::wrap(&key, &maker.private, &devices[0].public, &context())
        .await
        .unwrap();
    let started = now();
    for _ in 0..rounds {
        crypto::unwrap(
            &wrapped,
            &iv,
            &devices[0].private,
            &maker.public,
            &context(),
        )
        .await
        .unwrap();
    }
    let unwrapping = now() - started;
    console_log!(
        "new epoch wrapped for 10 devices: {:.1} ms; one unwrap: {:.2} ms (mean of {rounds})",
        making / f64::from(rounds),
        unwrapping / f64::from(rounds)
    );
}
