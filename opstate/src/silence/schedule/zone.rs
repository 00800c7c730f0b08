//! A time zone's wall clock turned into instants, the rules both recurring kinds share.
//!
//! Recurring windows are laid out on the wall clock of their time zone (chrono-tz), so a window
//! "Sat 22:00–02:00" in Europe/Berlin starts at 22:00 local on the night of a DST change too.
//! Turning a wall-clock time into an instant follows java.time / Vixie cron:
//! - a time the clock skips (spring forward) is moved forward to the first instant after the
//!   gap (02:30 on the night Berlin jumps from 02:00 to 03:00 becomes 03:00 CEST);
//! - a time the clock shows twice (fall back) takes the earlier instant (the summer one).
//!
//! With these two rules the mapping from wall clock to instant never runs backwards, which is
//! what lets the searches of `weekly` and `cron` stop at the first candidate they find.

use chrono::{
    DateTime, Duration, FixedOffset, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, Offset,
    TimeZone, Utc,
};
use chrono_tz::Tz;

/// `day` at `hour:minute` on the wall clock.
pub(super) fn at(day: NaiveDate, hour: u32, minute: u32) -> NaiveDateTime {
    day.and_time(NaiveTime::from_hms_opt(hour, minute, 0).unwrap_or(NaiveTime::MIN))
}

/// `day` at `hour:minute` in a fixed offset, as an instant.
pub(super) fn at_offset(
    day: NaiveDate,
    hour: u32,
    minute: u32,
    offset: FixedOffset,
) -> DateTime<Utc> {
    (at(day, hour, minute) - Duration::seconds(i64::from(offset.local_minus_utc()))).and_utc()
}

/// The UTC offset of local day `day` when it is the same all day (no DST change), so its
/// wall-clock times map to instants by plain arithmetic.
pub(super) fn plain_offset(tz: Tz, day: NaiveDate) -> Option<FixedOffset> {
    let start = tz.offset_from_local_datetime(&day.and_time(NaiveTime::MIN));
    let end = tz.offset_from_local_datetime(&day.succ_opt()?.and_time(NaiveTime::MIN));
    match (start, end) {
        (LocalResult::Single(a), LocalResult::Single(b)) if a.fix() == b.fix() => Some(a.fix()),
        _ => None,
    }
}

/// The instant a wall-clock time stands for in `tz`: the earlier of two when the clock shows
/// it twice, the first instant after the gap when the clock skips it.
pub(super) fn resolve(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(at) => at.with_timezone(&Utc),
        LocalResult::Ambiguous(a, b) => a.min(b).with_timezone(&Utc),
        LocalResult::None => first_instant_at_or_after(tz, local),
    }
}

/// The first instant whose wall-clock reading in `tz` is at or after `local`, found by
/// bisection over the two days around it (offsets stay within ±14 hours, so the wall clock
/// reads before `local` a day earlier and after it a day later).
fn first_instant_at_or_after(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    let guess = local.and_utc().timestamp();
    let (mut before, mut after) = (guess - 86_400, guess + 86_400);
    while after - before > 1 {
        let middle = before + (after - before) / 2;
        match DateTime::from_timestamp(middle, 0) {
            Some(at) if at.with_timezone(&tz).naive_local() >= local => after = middle,
            Some(_) => before = middle,
            None => break,
        }
    }
    DateTime::from_timestamp(after, 0).unwrap_or_else(|| local.and_utc())
}
