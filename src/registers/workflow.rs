//! The onboarding workflow of insurers and clinics:
//!
//! ```text
//! application ──> approved ──> active ──> excluded
//!      └────────> rejected
//! ```
//!
//! Every step is a new version (who, when, the comment, the date it takes effect). Activation
//! opens an inclusion period from its date unless one already covers it; exclusion on a date
//! (the first day out of the register) closes the open periods the day before. Any other step
//! is refused with `invalid_transition`. Territorial funds and experts have no workflow.
//! Called by `service::transition`.

use super::model::Status;

/// Whether the workflow allows going from `from` to `to`.
#[must_use]
pub fn allowed(from: Status, to: Status) -> bool {
    next(from).contains(&to)
}

/// The statuses reachable from `from` in one step.
#[must_use]
pub fn next(from: Status) -> &'static [Status] {
    match from {
        Status::Application => &[Status::Approved, Status::Rejected],
        Status::Approved => &[Status::Active],
        Status::Active => &[Status::Excluded],
        Status::Rejected | Status::Excluded => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_graph_is_allowed() {
        let allowed_steps = [
            (Status::Application, Status::Approved),
            (Status::Application, Status::Rejected),
            (Status::Approved, Status::Active),
            (Status::Active, Status::Excluded),
        ];
        for from in Status::ALL {
            for to in Status::ALL {
                assert_eq!(
                    allowed(from, to),
                    allowed_steps.contains(&(from, to)),
                    "{from} -> {to}"
                );
            }
        }
    }
}
