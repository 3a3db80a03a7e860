//! The HTTP skeleton as a client sees it: health, metrics, the error envelope, request ids.

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use omshub::api::health::Health;

use crate::support::TestApp;

#[actix_web::test]
async fn health_answers_ok_with_the_backend() {
    let app = TestApp::spawn();
    let res = app.get("/health").await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let body: Health = res.json();
    assert_eq!(body.status, "ok");
    assert_eq!(body.database, app.state.db.backend().name());
    assert_eq!(body.version, env!("CARGO_PKG_VERSION"));
}

#[actix_web::test]
async fn health_is_503_database_unavailable_when_the_database_does_not_answer() {
    let app = TestApp::with_unreachable_database();
    let res = app.get("/health").await;
    assert_eq!(
        res.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        res.text()
    );
    assert!(res.header("x-request-id").is_some());
    insta::assert_json_snapshot!("error_database_unavailable", res.error());
}

#[actix_web::test]
async fn metrics_count_requests_per_route_and_status() {
    let app = TestApp::spawn();
    for _ in 0..3 {
        assert_eq!(app.get("/health").await.status, StatusCode::OK);
    }
    assert_eq!(app.get("/no/such/page").await.status, StatusCode::NOT_FOUND);
    let res = app.get("/metrics").await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(
        res.header("content-type")
            .unwrap()
            .starts_with("text/plain; version=0.0.4"),
        "{:?}",
        res.header("content-type")
    );
    let text = res.text();
    assert!(
        text.contains(r#"omshub_http_requests_total{method="GET",route="/health",status="200"} 3"#),
        "{text}"
    );
    assert!(
        text.contains(
            r#"omshub_http_requests_total{method="GET",route="unmatched",status="404"} 1"#
        ),
        "{text}"
    );
    assert!(
        text.contains(
            r#"omshub_http_request_duration_seconds_count{method="GET",route="/health"} 3"#
        ),
        "{text}"
    );
    assert!(text.contains("# TYPE omshub_http_request_duration_seconds histogram"));
    assert!(text.contains(r#"omshub_build_info{version=""#));
    assert!(text.contains(r#"omshub_db_pool_connections{state="idle"}"#));
    // The scrape itself is counted by the next scrape.
    let again = app.get("/metrics").await.text();
    assert!(
        again.contains(
            r#"omshub_http_requests_total{method="GET",route="/metrics",status="200"} 1"#
        ),
        "{again}"
    );
}

#[actix_web::test]
async fn unknown_path_is_404_in_the_envelope() {
    let app = TestApp::spawn();
    let res = app.get("/api/v1/nothing-here").await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    assert_eq!(
        res.header("content-type").as_deref(),
        Some("application/json")
    );
    insta::assert_json_snapshot!("error_not_found", res.error());
}

#[actix_web::test]
async fn wrong_method_is_405_in_the_envelope() {
    let app = TestApp::spawn();
    let res = app.call(TestRequest::post().uri("/health")).await;
    assert_eq!(res.status, StatusCode::METHOD_NOT_ALLOWED);
    insta::assert_json_snapshot!("error_method_not_allowed", res.error());
}

#[actix_web::test]
async fn every_response_carries_a_fresh_request_id() {
    let app = TestApp::spawn();
    let a = app.get("/health").await.header("x-request-id").unwrap();
    let b = app.get("/nope").await.header("x-request-id").unwrap();
    assert_ne!(a, b);
    assert!(uuid::Uuid::parse_str(&a).is_ok(), "{a}");
}

#[actix_web::test]
async fn a_callers_request_id_is_kept_and_a_bad_one_replaced() {
    let app = TestApp::spawn();
    let res = app
        .call(
            TestRequest::get()
                .uri("/health")
                .insert_header(("X-Request-Id", "tfoms-75.upload-0001")),
        )
        .await;
    assert_eq!(
        res.header("x-request-id").as_deref(),
        Some("tfoms-75.upload-0001")
    );
    let res = app
        .call(
            TestRequest::get()
                .uri("/health")
                .insert_header(("X-Request-Id", "<script>")),
        )
        .await;
    let id = res.header("x-request-id").unwrap();
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "{id}");
}
