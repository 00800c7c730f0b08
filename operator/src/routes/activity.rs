//! `GET /v1/activity?hours=24`: the last hours' traffic from the trail (alerts received,
//! tickets created and alerts noted, per hour; the busiest organizations and event types),
//! for the console's overview. Computed in PostgreSQL over those hours only
//! ([`opstate::trail::activity`]).

use crate::auth::Reader;
use crate::error::{ApiError, Result};
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use opstate::trail::activity::{self, MAX_HOURS};
use serde::Deserialize;
use shared::alert::FieldError;

/// Hours covered when the query does not say.
const DEFAULT_HOURS: u32 = 24;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActivityParams {
    hours: Option<String>,
}

/// `hours` within `1..=MAX_HOURS`, or a problem naming it.
fn hours_of(value: Option<&str>) -> Result<u32> {
    let Some(value) = value else {
        return Ok(DEFAULT_HOURS);
    };
    match value.trim().parse::<u32>() {
        Ok(n) if (1..=MAX_HOURS).contains(&n) => Ok(n),
        _ => Err(ApiError::invalid_query(vec![FieldError::new(
            "hours",
            format!("must be a whole number from 1 to {MAX_HOURS}"),
        )])),
    }
}

pub async fn show(
    _: Reader,
    state: web::Data<AppState>,
    params: web::Query<ActivityParams>,
) -> Result<HttpResponse> {
    let hours = hours_of(params.hours.as_deref())?;
    let found = activity::activity(state.db()?, hours, chrono::Utc::now()).await?;
    Ok(HttpResponse::Ok().json(found))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hours_are_a_day_unless_said_and_at_most_a_week() {
        assert_eq!(hours_of(None).ok(), Some(24));
        assert_eq!(hours_of(Some(" 6 ")).ok(), Some(6));
        assert_eq!(hours_of(Some("168")).ok(), Some(168));
        for bad in ["0", "169", "-1", "a day", ""] {
            let e = hours_of(Some(bad)).expect_err(bad);
            assert_eq!(e.fields[0].field, "hours");
        }
    }
}
