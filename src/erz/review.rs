//! The review queue of duplicate persons and the merges (issue 8, point 4): the undecided
//! pairs matching found (`erz::matching`) with both persons' current data; a reviewer's
//! decision on a pair, `duplicate` (the two are merged) or `distinct` (an automatic link
//! between them is undone), which is final; a merge of two persons by hand and an unmerge.
//! A link is never changed except that an unmerge supersedes it, so "as whom did this ENP
//! answer at time T" keeps its answer. Called by `erz::cli` and `api::erz_review`; writes
//! through `erz::repo::matching`.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::Connection as _;
use serde::Serialize;

use super::repo::matching::{self as repo, LinkRow, NewDecision, NewLink, PairRow};
use super::repo::{self as erz_repo};
use crate::db::DbConn;
use crate::domain::{Enp, IdError};

/// A reviewer's decision on a pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// The two are one person: they are merged.
    Duplicate,
    /// The two are different persons: they are never linked by the engine.
    Distinct,
}

impl Decision {
    /// `duplicate` or `distinct`.
    pub fn parse(text: &str) -> Result<Self, ReviewError> {
        match text.trim() {
            "duplicate" => Ok(Self::Duplicate),
            "distinct" => Ok(Self::Distinct),
            _ => Err(ReviewError::InvalidDecision),
        }
    }

    /// As stored.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Duplicate => "duplicate",
            Self::Distinct => "distinct",
        }
    }
}

/// Why a review, merge or unmerge is refused. Messages never carry personal data.
#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    /// No such pair.
    #[error("there is no candidate pair {0}")]
    PairNotFound(i64),
    /// The pair was decided already.
    #[error("pair {pair} was decided already ({decision}); a reviewer's decision is final")]
    DecisionFinal {
        /// The pair.
        pair: i64,
        /// What was decided.
        decision: String,
    },
    /// Not `duplicate` or `distinct`.
    #[error("the decision must be `duplicate` or `distinct`")]
    InvalidDecision,
    /// A malformed ENP.
    #[error("{0}")]
    InvalidEnp(IdError),
    /// Nobody registered under an ENP.
    #[error("no insured person is registered with the {0} ENP")]
    PersonNotFound(&'static str),
    /// Both ENPs name one person.
    #[error("the two ENPs name the same person")]
    SamePerson,
    /// The person to merge away is merged into someone already.
    #[error("the person to merge away is already merged into another; unmerge it first")]
    AlreadyMerged,
    /// The person to keep answers as the one to merge away.
    #[error("the person to keep is itself merged into the person to merge away")]
    MergeCycle,
    /// Unmerge of a person not merged.
    #[error("this person is not merged into another")]
    NotMerged,
    /// The database failed.
    #[error("the register of insured persons could not be read or written")]
    Db(#[from] diesel::result::Error),
}

impl ReviewError {
    /// A stable code.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::PairNotFound(_) => "pair_not_found",
            Self::DecisionFinal { .. } => "decision_final",
            Self::InvalidDecision => "invalid_decision",
            Self::InvalidEnp(_) => "enp_invalid",
            Self::PersonNotFound(_) => "person_not_found",
            Self::SamePerson => "same_person",
            Self::AlreadyMerged => "already_merged",
            Self::MergeCycle => "merge_cycle",
            Self::NotMerged => "not_merged",
            Self::Db(_) => "database_error",
        }
    }
}

/// A person of a pair, as the reviewer sees them (their current data).
#[derive(Debug, Clone, Serialize)]
pub struct PersonView {
    /// ENP.
    pub enp: String,
    /// FAM.
    pub fam: Option<String>,
    /// IM.
    pub im: Option<String>,
    /// OT.
    pub ot: Option<String>,
    /// W: 1 male, 2 female.
    pub sex: Option<i32>,
    /// DR.
    pub birth_date: Option<NaiveDate>,
    /// SNILS digits.
    pub snils: Option<String>,
    /// The current document: type, series, number.
    pub document: Option<String>,
}

/// The per-field scores of a pair, thousandths (`null`: not compared).
#[derive(Debug, Clone, Serialize)]
pub struct FieldsView {
    /// Family names (Jaro-Winkler).
    pub fam: Option<i32>,
    /// Given names.
    pub im: Option<i32>,
    /// Patronymics.
    pub ot: Option<i32>,
    /// Birth dates.
    pub birth: Option<i32>,
    /// Sex.
    pub sex: Option<i32>,
    /// SNILS.
    pub snils: Option<i32>,
    /// Documents.
    pub document: Option<i32>,
}

/// A pair in the queue.
#[derive(Debug, Clone, Serialize)]
pub struct PairView {
    /// The pair id, for the decision.
    pub id: i64,
    /// `possible` or `sure` (a sure pair is here when its link was undone).
    pub state: String,
    /// Thousandths.
    pub score: i32,
    /// The blocking keys the two share.
    pub keys: Vec<String>,
    /// Each field.
    pub fields: FieldsView,
    /// First found.
    pub found_at: NaiveDateTime,
    /// Last seen by matching.
    pub last_seen_at: NaiveDateTime,
    /// The person registered first.
    pub a: PersonView,
    /// The other.
    pub b: PersonView,
}

/// A merge link.
#[derive(Debug, Clone, Serialize)]
pub struct LinkView {
    /// The link id.
    pub id: i64,
    /// The ENP that answers as the other.
    pub gone_enp: String,
    /// The ENP it answers as.
    pub kept_enp: String,
    /// `auto`, `review` or `manual`.
    pub why: String,
    /// Who linked.
    pub recorded_by: String,
    /// When.
    pub recorded_at: NaiveDateTime,
    /// Why, in words.
    pub comment: Option<String>,
    /// When it was undone (an unmerge).
    pub superseded_at: Option<NaiveDateTime>,
    /// By whom.
    pub superseded_by: Option<String>,
    /// `review` or `manual`.
    pub superseded_why: Option<String>,
    /// Why, in words.
    pub superseded_comment: Option<String>,
}

/// A decision and what it did.
#[derive(Debug, Clone, Serialize)]
pub struct DecisionView {
    /// The pair.
    pub pair_id: i64,
    /// `duplicate` or `distinct`.
    pub decision: &'static str,
    /// Who.
    pub decided_by: String,
    /// When.
    pub decided_at: NaiveDateTime,
    /// Why, in words.
    pub comment: Option<String>,
    /// The link a `duplicate` made (`null` when the two were one person already).
    pub linked: Option<LinkView>,
    /// The automatic link a `distinct` undid, if there was one.
    pub unlinked: Option<LinkView>,
}

fn link_view(conn: &mut DbConn, l: LinkRow) -> Result<LinkView, ReviewError> {
    Ok(LinkView {
        id: l.id,
        gone_enp: erz_repo::enp_of(conn, l.gone_person)?,
        kept_enp: erz_repo::enp_of(conn, l.kept_person)?,
        why: l.why,
        recorded_by: l.recorded_by,
        recorded_at: l.recorded_at,
        comment: l.comment,
        superseded_at: l.superseded_at,
        superseded_by: l.superseded_by,
        superseded_why: l.superseded_why,
        superseded_comment: l.superseded_comment,
    })
}

fn person_view(conn: &mut DbConn, person: i64) -> Result<PersonView, ReviewError> {
    let enp = erz_repo::enp_of(conn, person)?;
    let version = erz_repo::current_person_versions(conn, person)?
        .into_iter()
        .find(|v| v.valid_to.is_none());
    let document = erz_repo::current_documents(conn, person)?
        .into_iter()
        .find(|d| d.valid_to.is_none())
        .map(|d| {
            let series = d.docser.map(|s| format!("{s} ")).unwrap_or_default();
            format!("{} {series}{}", d.doctype, d.docnum)
        });
    Ok(PersonView {
        enp,
        fam: version.as_ref().map(|v| v.fam.clone()),
        im: version.as_ref().and_then(|v| v.im.clone()),
        ot: version.as_ref().and_then(|v| v.ot.clone()),
        sex: version.as_ref().map(|v| v.sex),
        birth_date: version.as_ref().map(|v| v.birth_date),
        snils: version.and_then(|v| v.snils),
        document,
    })
}

fn pair_view(conn: &mut DbConn, p: PairRow) -> Result<PairView, ReviewError> {
    Ok(PairView {
        id: p.id,
        state: p.state,
        score: p.score,
        keys: p
            .keys
            .split(',')
            .filter(|k| !k.is_empty())
            .map(str::to_owned)
            .collect(),
        fields: FieldsView {
            fam: p.fam_score,
            im: p.im_score,
            ot: p.ot_score,
            birth: p.birth_score,
            sex: p.sex_score,
            snils: p.snils_score,
            document: p.doc_score,
        },
        found_at: p.found_at,
        last_seen_at: p.last_seen_at,
        a: person_view(conn, p.person_a)?,
        b: person_view(conn, p.person_b)?,
    })
}

/// A page of the review queue (undecided pairs whose persons are not merged into anyone),
/// best score first, and the queue's length.
pub fn queue(
    conn: &mut DbConn,
    offset: i64,
    limit: i64,
) -> Result<(Vec<PairView>, i64), ReviewError> {
    let (rows, total) = repo::queue(conn, offset, limit)?;
    let items = rows
        .into_iter()
        .map(|p| pair_view(conn, p))
        .collect::<Result<_, _>>()?;
    Ok((items, total))
}

/// Records `decision` on pair `pair_id` by `by` at `now`. `duplicate` links the two (the
/// later-registered survivor answers as the earlier one; nothing when they are one person
/// already); `distinct` undoes a current link between the two. Refused when the pair was
/// decided before: a decision is final.
pub fn decide(
    conn: &mut DbConn,
    pair_id: i64,
    decision: Decision,
    by: &str,
    comment: Option<&str>,
    now: NaiveDateTime,
) -> Result<DecisionView, ReviewError> {
    conn.transaction(|conn| {
        let pair = repo::pair(conn, pair_id)?.ok_or(ReviewError::PairNotFound(pair_id))?;
        let final_already = |d: repo::DecisionRow| ReviewError::DecisionFinal {
            pair: pair_id,
            decision: d.decision,
        };
        if let Some(d) = repo::decision_of(conn, pair_id)? {
            return Err(final_already(d));
        }
        let comment = comment.map(str::trim).filter(|c| !c.is_empty());
        let row = NewDecision {
            pair_id,
            decision: decision.as_str().to_owned(),
            decided_by: by.to_owned(),
            decided_at: now,
            comment: comment.map(str::to_owned),
        };
        if !repo::insert_decision(conn, &row)? {
            let d = repo::decision_of(conn, pair_id)?.ok_or(ReviewError::PairNotFound(pair_id))?;
            return Err(final_already(d));
        }
        let (mut linked, mut unlinked) = (None, None);
        match decision {
            Decision::Duplicate => {
                let ka = repo::survivor(conn, pair.person_a, None)?;
                let kb = repo::survivor(conn, pair.person_b, None)?;
                if ka != kb {
                    let link = NewLink {
                        gone_person: ka.max(kb),
                        kept_person: ka.min(kb),
                        pair_id: Some(pair_id),
                        why: "review".into(),
                        recorded_by: by.to_owned(),
                        recorded_at: now,
                        comment: comment.map(str::to_owned),
                    };
                    // The survivors are not merged, so the gone one has no current link.
                    let id = repo::insert_link(conn, &link)?.ok_or(ReviewError::AlreadyMerged)?;
                    linked = Some(current_link(conn, ka.max(kb), id)?);
                }
            }
            Decision::Distinct => {
                if let Some(l) = repo::current_link_between(conn, pair.person_a, pair.person_b)? {
                    repo::supersede_link(conn, l.id, now, by, "review", comment)?;
                    let after = repo::links_of(conn, l.gone_person)?
                        .into_iter()
                        .find(|x| x.id == l.id)
                        .unwrap_or(l);
                    unlinked = Some(link_view(conn, after)?);
                }
            }
        }
        Ok(DecisionView {
            pair_id,
            decision: decision.as_str(),
            decided_by: by.to_owned(),
            decided_at: now,
            comment: comment.map(str::to_owned),
            linked,
            unlinked,
        })
    })
}

fn current_link(conn: &mut DbConn, gone: i64, id: i64) -> Result<LinkView, ReviewError> {
    let row = repo::link_from(conn, gone, None)?
        .filter(|l| l.id == id)
        .ok_or(ReviewError::NotMerged)?;
    link_view(conn, row)
}

fn parse_enp(text: &str) -> Result<Enp, ReviewError> {
    Enp::parse(text.trim()).map_err(ReviewError::InvalidEnp)
}

fn person(conn: &mut DbConn, enp: &Enp, which: &'static str) -> Result<i64, ReviewError> {
    erz_repo::person_by_enp(conn, enp.as_str())?.ok_or(ReviewError::PersonNotFound(which))
}

/// Merges the person `gone` into `keep` by hand: from `now` on, `gone`'s ENP answers as
/// `keep`. Refused when `gone` is merged already or `keep` answers as `gone`.
pub fn merge(
    conn: &mut DbConn,
    keep: &str,
    gone: &str,
    by: &str,
    comment: Option<&str>,
    now: NaiveDateTime,
) -> Result<LinkView, ReviewError> {
    let (keep, gone) = (parse_enp(keep)?, parse_enp(gone)?);
    conn.transaction(|conn| {
        let keep = person(conn, &keep, "kept")?;
        let gone = person(conn, &gone, "merged")?;
        if keep == gone {
            return Err(ReviewError::SamePerson);
        }
        if repo::link_from(conn, gone, None)?.is_some() {
            return Err(ReviewError::AlreadyMerged);
        }
        if repo::survivor(conn, keep, None)? == gone {
            return Err(ReviewError::MergeCycle);
        }
        let pair_id = repo::pair_of(conn, keep.min(gone), keep.max(gone))?.map(|p| p.id);
        let link = NewLink {
            gone_person: gone,
            kept_person: keep,
            pair_id,
            why: "manual".into(),
            recorded_by: by.to_owned(),
            recorded_at: now,
            comment: comment
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(str::to_owned),
        };
        let id = repo::insert_link(conn, &link)?.ok_or(ReviewError::AlreadyMerged)?;
        current_link(conn, gone, id)
    })
}

/// Undoes the current merge of `gone`: from `now` on its ENP answers for itself again; the
/// link stays on record, superseded.
pub fn unmerge(
    conn: &mut DbConn,
    gone: &str,
    by: &str,
    comment: Option<&str>,
    now: NaiveDateTime,
) -> Result<LinkView, ReviewError> {
    let gone = parse_enp(gone)?;
    conn.transaction(|conn| {
        let gone = person(conn, &gone, "merged")?;
        let link = repo::link_from(conn, gone, None)?.ok_or(ReviewError::NotMerged)?;
        let comment = comment.map(str::trim).filter(|c| !c.is_empty());
        if !repo::supersede_link(conn, link.id, now, by, "manual", comment)? {
            return Err(ReviewError::NotMerged);
        }
        let after = repo::links_of(conn, gone)?
            .into_iter()
            .find(|l| l.id == link.id)
            .ok_or(ReviewError::NotMerged)?;
        link_view(conn, after)
    })
}

/// Every link the person with `enp` took part in, oldest first (current and undone).
pub fn links(conn: &mut DbConn, enp: &str) -> Result<Vec<LinkView>, ReviewError> {
    let enp = parse_enp(enp)?;
    let person = person(conn, &enp, "given")?;
    repo::links_of(conn, person)?
        .into_iter()
        .map(|l| link_view(conn, l))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decisions_parse_and_errors_are_coded() {
        assert_eq!(Decision::parse("duplicate").unwrap(), Decision::Duplicate);
        assert_eq!(Decision::parse(" distinct ").unwrap(), Decision::Distinct);
        assert_eq!(
            Decision::parse("maybe").unwrap_err().code(),
            "invalid_decision"
        );
        assert_eq!(ReviewError::PairNotFound(7).code(), "pair_not_found");
        assert_eq!(
            ReviewError::DecisionFinal {
                pair: 7,
                decision: "distinct".into()
            }
            .code(),
            "decision_final"
        );
        assert_eq!(parse_enp("123").unwrap_err().code(), "enp_invalid");
    }
}
