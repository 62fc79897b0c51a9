//! Accounts and API tokens: who the caller is, the users (administrators only), and
//! one's own tokens. Each handler calls one use case of the hub, which checks the
//! caller and records the audit event.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use bastide_access::{IssuedToken, NewUser, Principal, Token, User};
use bastide_core::ids::ProjectId;
use bastide_hub::NewToken;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::api::{ApiError, AppState, ErrorEnvelope};
use crate::api::{Caller, Credential};

/// A user to create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewUserBody {
    /// Login name: 2 to 64 lowercase letters, digits, `.`, `_`, `-`.
    name: String,
    /// Name shown.
    display_name: Option<String>,
    /// Roles: admin, steward, researcher, auditor.
    roles: Vec<String>,
    /// Password (at least 12 characters); generated and returned once when absent.
    password: Option<String>,
}

/// A user just created.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CreatedUser {
    user: User,
    /// The generated password, shown this once.
    generated_password: Option<String>,
}

/// A token to create for oneself.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewTokenBody {
    /// What it is for.
    name: String,
    /// The only project it may act for.
    #[schema(value_type = Option<String>)]
    project: Option<ProjectId>,
    /// Days it lives (1 to 365, default 90).
    days: Option<u32>,
}

/// The caller, as the hub knows them.
#[utoipa::path(get, path = "/api/v1/me", tag = "identity",
    responses(
        (status = 200, description = "The caller", body = Principal),
        (status = 401, description = "No valid token", body = ErrorEnvelope)))]
pub(crate) async fn me(caller: Credential) -> Json<Principal> {
    Json(caller.principal().clone())
}

/// Every user (administrators).
#[utoipa::path(get, path = "/api/v1/users", tag = "identity",
    responses(
        (status = 200, description = "Users, by name", body = Vec<User>),
        (status = 401, description = "No valid token", body = ErrorEnvelope),
        (status = 403, description = "Not an administrator", body = ErrorEnvelope)))]
pub(crate) async fn users(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<User>>, ApiError> {
    Ok(Json(state.hub.users(&caller.hub()).await.map_err(hub)?))
}

/// Creates a user (administrators).
#[utoipa::path(post, path = "/api/v1/users", tag = "identity", request_body = NewUserBody,
    responses(
        (status = 201, description = "Created", body = CreatedUser),
        (status = 400, description = "A field is not acceptable", body = ErrorEnvelope),
        (status = 401, description = "No valid token", body = ErrorEnvelope),
        (status = 403, description = "Not an administrator", body = ErrorEnvelope),
        (status = 409, description = "The name is taken", body = ErrorEnvelope)))]
pub(crate) async fn create_user(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<NewUserBody>,
) -> Result<(StatusCode, Json<CreatedUser>), ApiError> {
    let new = NewUser {
        name: body.name,
        display_name: body.display_name,
        roles: body.roles,
        password: body.password,
    };
    let (user, generated_password) = state
        .hub
        .create_user(&caller.hub(), new)
        .await
        .map_err(hub)?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedUser {
            user,
            generated_password,
        }),
    ))
}

/// Disables a user (administrators): no login, no token works any more.
#[utoipa::path(post, path = "/api/v1/users/{name}/disable", tag = "identity",
    params(("name" = String, Path, description = "Login name")),
    responses(
        (status = 200, description = "Disabled", body = User),
        (status = 401, description = "No valid token", body = ErrorEnvelope),
        (status = 403, description = "Not an administrator", body = ErrorEnvelope),
        (status = 404, description = "No such user", body = ErrorEnvelope)))]
pub(crate) async fn disable_user(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Json<User>, ApiError> {
    let user = state
        .hub
        .disable_user(&caller.hub(), &name)
        .await
        .map_err(hub)?;
    Ok(Json(user))
}

/// The caller's own tokens, newest first (never their secrets).
#[utoipa::path(get, path = "/api/v1/tokens", tag = "identity",
    responses(
        (status = 200, description = "Tokens", body = Vec<Token>),
        (status = 401, description = "No valid token", body = ErrorEnvelope)))]
pub(crate) async fn tokens(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<Token>>, ApiError> {
    Ok(Json(
        state.hub.tokens(&caller.hub(), None).await.map_err(hub)?,
    ))
}

/// Creates a token for the caller; its secret is in this answer only.
#[utoipa::path(post, path = "/api/v1/tokens", tag = "identity", request_body = NewTokenBody,
    responses(
        (status = 201, description = "Created; `secret` is shown this once", body = IssuedToken),
        (status = 400, description = "A field is not acceptable", body = ErrorEnvelope),
        (status = 401, description = "No valid token", body = ErrorEnvelope),
        (status = 403, description = "A project-bound token cannot make tokens", body = ErrorEnvelope)))]
pub(crate) async fn create_token(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<NewTokenBody>,
) -> Result<(StatusCode, Json<IssuedToken>), ApiError> {
    let new = NewToken {
        owner: None,
        name: body.name,
        project: body.project,
        days: body.days.unwrap_or(90),
    };
    let issued = state
        .hub
        .create_token(&caller.hub(), new)
        .await
        .map_err(hub)?;
    Ok((StatusCode::CREATED, Json(issued)))
}

/// Revokes a token: one's own, or anyone's for an administrator. A token bound to a
/// project may revoke itself (a holder who fears it leaked should be able to end it),
/// and nothing else.
#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "identity",
    params(("id" = String, Path, description = "Token id")),
    responses(
        (status = 200, description = "Revoked", body = Token),
        (status = 401, description = "No valid token", body = ErrorEnvelope),
        (status = 403, description = "A project-bound token revoking another token", body = ErrorEnvelope),
        (status = 404, description = "No such token of yours", body = ErrorEnvelope)))]
pub(crate) async fn revoke_token(
    State(state): State<AppState>,
    caller: Credential,
    Path(id): Path<String>,
) -> Result<Json<Token>, ApiError> {
    let revoked = state
        .hub
        .revoke_token(&caller.hub(), &id)
        .await
        .map_err(hub)?;
    Ok(Json(revoked))
}

/// The API error for an access error.
pub(crate) fn access(error: bastide_access::Error) -> ApiError {
    use bastide_access::Error;
    let client = |status, code, message: String| ApiError::Client {
        status,
        code,
        message,
    };
    match error {
        Error::Invalid { .. } => client(StatusCode::BAD_REQUEST, "invalid", error.to_string()),
        Error::NotFound { .. } => ApiError::not_found(error.to_string()),
        Error::Auth(_) | Error::Refused(_) => {
            client(StatusCode::FORBIDDEN, "forbidden", error.to_string())
        }
        Error::Meta(bastide_meta::Error::UserExists { .. }) => {
            client(StatusCode::CONFLICT, "conflict", error.to_string())
        }
        Error::Meta(e) => ApiError::internal(e),
    }
}

/// The API error for a use case's error.
pub(crate) fn hub(error: bastide_hub::Error) -> ApiError {
    match error {
        bastide_hub::Error::Access(e) => access(e),
        other => ApiError::internal(other),
    }
}
