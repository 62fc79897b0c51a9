//! The web interface's pages as HTTP sees them: their security headers, the language
//! switch's way back (this site only), and pages for browsers only.

use crate::TestHub;

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

#[tokio::test]
async fn pages_carry_a_strict_policy_and_vary_with_the_language() {
    let hub = TestHub::spawn().await;
    let page = hub.get("/").await;
    assert_eq!(page.status(), 200);
    let headers = page.headers().clone();
    let policy = headers["content-security-policy"].to_str().unwrap();
    assert!(policy.starts_with("default-src 'none'"), "{policy}");
    assert!(
        !policy.contains("unsafe") && !policy.contains("http"),
        "{policy}"
    );
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["vary"], "Cookie, Accept-Language");
    let html = page.text().await.unwrap();
    assert!(
        html.starts_with("<!DOCTYPE html><html lang=\"fr\">"),
        "{html}"
    );
    assert!(!html.contains("<script"), "the catalogue runs no script");
}

#[tokio::test]
async fn the_language_switch_goes_back_to_this_site_only() {
    let hub = TestHub::spawn().await;
    let client = no_redirects();
    let switch = |to: &str| {
        let url = format!("{}/lang/en?to={to}", hub.base);
        let client = client.clone();
        async move { client.get(url).send().await.unwrap() }
    };
    let back = switch("/registry").await;
    assert_eq!(back.status(), 303);
    assert_eq!(back.headers()["location"], "/registry");
    assert!(
        back.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .starts_with("bastide_lang=en;")
    );
    for elsewhere in [
        "//evil.example",
        "/%09/evil.example",
        "/%5Cevil.example",
        "https://evil.example",
        "/%0D%0ASet-Cookie:%20x=1",
    ] {
        let response = switch(elsewhere).await;
        assert_eq!(response.status(), 303, "{elsewhere}");
        assert_eq!(response.headers()["location"], "/", "{elsewhere}");
    }
}

#[tokio::test]
async fn browsers_get_a_page_for_an_unknown_address_and_programs_the_api_error() {
    let hub = TestHub::spawn().await;
    let ask = |path: &str, accept: &str| {
        let request = hub
            .client
            .get(format!("{}{path}", hub.base))
            .header("accept", accept);
        async move { request.send().await.unwrap() }
    };
    let browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
    let page = ask("/nowhere", browser).await;
    assert_eq!(page.status(), 404);
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert_eq!(page.headers()["x-frame-options"], "DENY");
    for (path, accept) in [
        ("/nowhere", "*/*"),
        ("/nowhere", "application/json"),
        (
            "/nowhere",
            "text/html, image/gif, image/jpeg, *; q=.2, */*; q=.2",
        ),
        ("/api/v1/nowhere", browser),
        ("/metrics/x", browser),
    ] {
        let response = ask(path, accept).await;
        assert_eq!(response.status(), 404, "{path} {accept}");
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/json"),
            "{path} {accept}"
        );
    }
}

#[tokio::test]
async fn a_form_from_another_site_is_refused_before_its_handler_and_one_from_here_is_not() {
    let hub = TestHub::spawn().await;
    let client = no_redirects();
    let host = hub.base.trim_start_matches("http://").to_owned();
    let sign_in = |headers: Vec<(&'static str, String)>| {
        let mut request = client
            .post(format!("{}/sign-in", hub.base))
            .form(&[("name", "nobody"), ("password", "not a password")]);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        async move { request.send().await.unwrap().status().as_u16() }
    };
    // The browser says where the form comes from: taken at its word.
    assert_eq!(
        sign_in(vec![("sec-fetch-site", "cross-site".into())]).await,
        403
    );
    assert_eq!(
        sign_in(vec![("sec-fetch-site", "same-site".into())]).await,
        403
    );
    // Behind a proxy that rewrote `Host`, a form of this site still reaches its handler
    // (which refuses the wrong password: 401, not 403).
    let proxied = vec![
        ("sec-fetch-site", "same-origin".to_owned()),
        ("origin", "https://hub.example.org".to_owned()),
    ];
    assert_eq!(sign_in(proxied).await, 401);
    // Without it, the `Origin` must be this hub's.
    assert_eq!(
        sign_in(vec![("origin", "https://evil.example".into())]).await,
        403
    );
    assert_eq!(
        sign_in(vec![("origin", format!("http://{host}"))]).await,
        401
    );
    assert_eq!(sign_in(vec![]).await, 401);
}
