//! `POST /preferences/theme`: the footer's theme switch, as a browser posts
//! it without JavaScript, and the page that follows it.

use crate::support::{TestApp, spawn_app};

/// The footer's form, posted as a browser on `origin` posts it.
async fn post_theme(app: &TestApp, origin: &str, form: &[(&str, &str)]) -> reqwest::Response {
    app.client
        .post(app.url("/preferences/theme"))
        .header("origin", origin)
        .form(form)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_chosen_theme_is_remembered_and_rendered_on_the_page() {
    let app = spawn_app().await;
    let response = post_theme(
        &app,
        &app.address,
        &[("theme", "dark"), ("next", "/credits?page=2")],
    )
    .await;
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/credits?page=2");
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(cookie.starts_with("theme=dark;"), "{cookie}");
    assert!(cookie.contains("Max-Age=31536000"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");

    let page = |cookie: Option<&'static str>| {
        let mut request = app.client.get(app.url("/")).header("accept", "text/html");
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        async move { request.send().await.unwrap().text().await.unwrap() }
    };
    assert!(
        page(Some("theme=dark"))
            .await
            .contains(r#"<html lang="en" data-theme="dark">"#)
    );
    assert!(
        page(Some("theme=light"))
            .await
            .contains(r#"data-theme="light""#)
    );
    // No choice (or a cookie that names no theme): the system's setting.
    for cookie in [None, Some("theme=purple")] {
        let html = page(cookie).await;
        assert!(html.contains(r#"<html lang="en">"#), "{cookie:?}");
        assert!(
            html.contains(r#"data-theme-option="system" aria-pressed="true""#),
            "{cookie:?}"
        );
    }
}

#[tokio::test]
async fn system_forgets_the_choice_and_the_way_back_stays_on_this_site() {
    let app = spawn_app().await;
    let post = |form: Vec<(&'static str, &'static str)>| {
        let app = &app;
        async move { post_theme(app, &app.address, &form).await }
    };
    let response = post(vec![("theme", "system"), ("next", "/billing")]).await;
    assert_eq!(response.status(), 303);
    let cookie = response.headers()["set-cookie"].to_str().unwrap();
    assert!(
        cookie.starts_with("theme=;") && cookie.contains("Max-Age=0"),
        "{cookie}"
    );

    for next in [
        "https://evil.example/",
        "//evil.example",
        "javascript:alert(1)",
    ] {
        let response = post(vec![("theme", "light"), ("next", next)]).await;
        assert_eq!(response.headers()["location"], "/", "{next}");
    }
    let response = post(vec![("theme", "light")]).await;
    assert_eq!(response.headers()["location"], "/");
}

#[tokio::test]
async fn a_bad_theme_or_a_cross_site_post_changes_nothing() {
    let app = spawn_app().await;
    let response = post_theme(&app, &app.address, &[("theme", "purple")]).await;
    assert_eq!(response.status(), 422);
    assert!(response.headers().get("set-cookie").is_none());
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["code"], "invalid_body");

    let response = post_theme(&app, "https://evil.example", &[("theme", "dark")]).await;
    assert_eq!(response.status(), 403);
    assert!(response.headers().get("set-cookie").is_none());
}
