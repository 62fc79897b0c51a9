//! The API's side of [`bastide_hub::throttle`]: the 429 answered to an address that failed
//! too often. Which address that is, is [`super::client`]'s question.

use axum::http::StatusCode;

use super::ApiError;
use bastide_hub::throttle::TooManyFailures;

impl From<TooManyFailures> for ApiError {
    fn from(e: TooManyFailures) -> Self {
        ApiError::Client {
            status: StatusCode::TOO_MANY_REQUESTS,
            code: "too_many_failures",
            message: e.to_string(),
        }
    }
}
