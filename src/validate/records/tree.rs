//! The one child of the root under construction (a ZAP, a PERS, the SCHET, …) as a small
//! flat tree of what the schema check handed on, the conversions of its values into typed
//! fields, and [`Builder`], the one `Sink` every family of files uses. A family (`account`,
//! `persons`, `erz`) says which children of the root are records and how a clean child becomes
//! an item ([`Family`]); the builder records the child in a [`Recorder`] from the `Sink` calls
//! and, when the check reports it clean, has the family walk it with [`El`] and convert values
//! with [`Cx`], counts what no typed field took, and hands the item to the consumer.
//!
//! The buffers are reused from item to item, so memory is that of the largest item, never the
//! file.

use std::borrow::Cow;

use chrono::NaiveDate;

use super::Summary;
use crate::domain::{Decimal, Money, Sex};
use crate::validate::schema::Sink;
use crate::validate::simple;
use crate::xml::tables::WhiteSpace;

/// One element of the item: its name, where it starts, its value (simple content only) and
/// where its subtree ends.
#[derive(Debug, Clone, Copy)]
struct Node {
    name: &'static str,
    line: u64,
    /// Byte range of the value in [`Tree::text`], if one was handed on.
    value: Option<(usize, usize)>,
    /// Index of the first node after this one's subtree (0 while the element is open).
    after: usize,
}

/// The elements of one item in document order.
#[derive(Debug, Default)]
pub(super) struct Tree {
    nodes: Vec<Node>,
    text: String,
    open: Vec<usize>,
}

impl Tree {
    fn clear(&mut self) {
        self.nodes.clear();
        self.text.clear();
        self.open.clear();
    }

    fn open(&mut self, name: &'static str, line: u64) {
        self.open.push(self.nodes.len());
        self.nodes.push(Node {
            name,
            line,
            value: None,
            after: 0,
        });
    }

    fn value(&mut self, value: &str) {
        if let Some(&at) = self.open.last() {
            let start = self.text.len();
            self.text.push_str(value);
            self.nodes[at].value = Some((start, self.text.len()));
        }
    }

    fn close(&mut self) {
        if let Some(at) = self.open.pop() {
            self.nodes[at].after = self.nodes.len();
        }
    }

    /// The item's element, if the tree holds one.
    fn root(&self) -> Option<El<'_>> {
        (!self.nodes.is_empty()).then_some(El { tree: self, at: 0 })
    }
}

/// One element of a [`Tree`], to read while converting.
#[derive(Debug, Clone, Copy)]
pub struct El<'t> {
    tree: &'t Tree,
    at: usize,
}

impl<'t> El<'t> {
    fn node(self) -> Node {
        self.tree.nodes[self.at]
    }

    /// The element's name.
    pub(super) fn name(self) -> &'static str {
        self.node().name
    }

    /// The line of its start tag.
    pub(super) fn line(self) -> u64 {
        self.node().line
    }

    /// The value as written (not whitespace-normalised); `None` for an element with element
    /// content.
    pub(super) fn raw(self) -> Option<&'t str> {
        self.node()
            .value
            .and_then(|(start, end)| self.tree.text.get(start..end))
    }

    /// The child elements, in document order.
    pub(super) fn children(self) -> impl Iterator<Item = El<'t>> {
        let tree = self.tree;
        let end = self.node().after.max(self.at + 1).min(tree.nodes.len());
        let mut next = self.at + 1;
        std::iter::from_fn(move || {
            if next >= end {
                return None;
            }
            let child = El { tree, at: next };
            next = tree.nodes[next].after.max(next + 1);
            Some(child)
        })
    }

    /// Every element of the subtree with a value, this one included.
    fn leaves(self) -> impl Iterator<Item = El<'t>> {
        let tree = self.tree;
        let end = self.node().after.max(self.at + 1).min(tree.nodes.len());
        (self.at..end)
            .map(move |at| El { tree, at })
            .filter(|e| e.node().value.is_some())
    }
}

/// The conversions of one item's values. A value that passed its XSD type converts; one that
/// does not (the schema grew a type the records do not know, or an element moved) is kept as
/// written in `other`, with its name, so nothing is dropped silently.
#[derive(Debug, Default)]
pub struct Cx {
    pub(super) other: Vec<(&'static str, String)>,
}

impl Cx {
    /// Keeps `el` (and every value below it) in `other`.
    pub(super) fn unplaced(&mut self, el: El<'_>) {
        let mut any = false;
        for leaf in el.leaves() {
            any = true;
            self.other
                .push((leaf.name(), leaf.raw().unwrap_or_default().to_owned()));
        }
        if !any {
            self.other.push((el.name(), String::new()));
        }
    }

    /// The value after whitespace collapse (every string type of the schemas collapses), or
    /// `None` (kept in `other`) for an element without a value.
    fn collapsed<'t>(&mut self, el: El<'t>) -> Option<Cow<'t, str>> {
        let Some(raw) = el.raw() else {
            self.unplaced(el);
            return None;
        };
        Some(simple::normalize(raw, WhiteSpace::Collapse))
    }

    /// A mandatory text (may be empty where its type allows).
    pub(super) fn text(&mut self, el: El<'_>) -> String {
        self.collapsed(el).map(Cow::into_owned).unwrap_or_default()
    }

    /// An optional text: `None` when empty, as when absent (the formats use both for "no
    /// value": `<SPOLIS></SPOLIS>`, `<NPOLIS/>`).
    pub(super) fn opt_text(&mut self, el: El<'_>) -> Option<String> {
        self.collapsed(el)
            .filter(|v| !v.is_empty())
            .map(Cow::into_owned)
    }

    /// Converts the collapsed value with `parse`; a failure keeps it in `other`.
    fn parsed<T>(&mut self, el: El<'_>, parse: impl FnOnce(&str) -> Option<T>) -> Option<T> {
        let value = self.collapsed(el)?;
        let parsed = parse(&value);
        if parsed.is_none() {
            self.other
                .push((el.name(), el.raw().unwrap_or_default().to_owned()));
        }
        parsed
    }

    /// A non-negative integer (`N(p)`: leading zeros and a `+` allowed, `-0` is 0).
    pub(super) fn int<T: TryFrom<u64>>(&mut self, el: El<'_>) -> Option<T> {
        self.parsed(el, |v| parse_unsigned(v).and_then(|n| T::try_from(n).ok()))
    }

    /// A 0/1 flag.
    pub(super) fn flag(&mut self, el: El<'_>) -> Option<bool> {
        self.parsed(el, |v| match parse_unsigned(v) {
            Some(0) => Some(false),
            Some(1) => Some(true),
            _ => None,
        })
    }

    /// An amount `N(15,2)` in kopecks.
    pub(super) fn money(&mut self, el: El<'_>) -> Option<Money> {
        self.parsed(el, |v| Money::parse(v).ok())
    }

    /// A decimal `N(p,s)` that is not money.
    pub(super) fn decimal(&mut self, el: El<'_>) -> Option<Decimal> {
        self.parsed(el, |v| Decimal::parse(v).ok())
    }

    /// A date `YYYY-MM-DD`; of a date-time (the ERZ lists' `DateOrDateTime`) or a date with a
    /// time zone, the calendar date as written.
    pub(super) fn date(&mut self, el: El<'_>) -> Option<NaiveDate> {
        self.parsed(el, parse_date)
    }

    /// Sex (V005), `W`: 1 or 2.
    pub(super) fn sex(&mut self, el: El<'_>) -> Option<Sex> {
        self.parsed(el, |v| {
            parse_unsigned(v)
                .and_then(|n| u8::try_from(n).ok())
                .and_then(|n| Sex::from_code(n).ok())
        })
    }
}

/// `[+]digits` or `-0…0`, the lexical space of `xs:nonNegativeInteger`.
fn parse_unsigned(v: &str) -> Option<u64> {
    let (negative, digits) = match v.as_bytes().first()? {
        b'+' => (false, &v[1..]),
        b'-' => (true, &v[1..]),
        _ => (false, v),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut n: u64 = 0;
    for b in digits.bytes() {
        n = n.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    (!negative || n == 0).then_some(n)
}

/// The leading `YYYY-MM-DD` of a date, a date with a time zone or a date-time.
fn parse_date(v: &str) -> Option<NaiveDate> {
    let date = v.get(..10)?;
    let rest = &v[10..];
    if !(rest.is_empty() || rest.starts_with(['T', 'Z', '+', '-'])) {
        return None;
    }
    let b = date.as_bytes();
    if b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    NaiveDate::from_ymd_opt(
        date[..4].parse().ok()?,
        date[5..7].parse().ok()?,
        date[8..10].parse().ok()?,
    )
}

/// What the builders share: the item under construction and the counts.
#[derive(Debug, Default)]
struct Recorder {
    tree: Tree,
    /// The child of the root being recorded, until its `item` call.
    current: Option<&'static str>,
    summary: Summary,
}

impl Recorder {
    fn open(&mut self, name: &'static str, depth: usize, line: u64) {
        if depth == 1 {
            self.tree.clear();
            self.current = Some(name);
        }
        self.tree.open(name, line);
    }

    fn value(&mut self, value: &str) {
        self.tree.value(value);
    }

    fn close(&mut self) {
        self.tree.close();
    }

    /// A child of the root ended: counts it and says whether to build it (no findings).
    fn ended(&mut self, is_record: bool, findings: u64) -> bool {
        self.current = None;
        match (is_record, findings == 0) {
            (true, true) => self.summary.records += 1,
            (true, false) => self.summary.refused += 1,
            (false, false) => self.summary.headers_refused += 1,
            (false, true) => {}
        }
        findings == 0
    }

    /// The finished item.
    fn root(&self) -> Option<El<'_>> {
        self.tree.root()
    }

    /// The check ended: an item still open was cut off by a fatal finding (not well-formed
    /// XML) and counts as refused. Returns the counts.
    fn finish(&mut self, is_record: impl Fn(&str) -> bool) -> Summary {
        if let Some(name) = self.current.take() {
            if is_record(name) {
                self.summary.refused += 1;
            } else {
                self.summary.headers_refused += 1;
            }
        }
        self.tree.clear();
        self.summary
    }
}

/// What one family of files (accounts, personal data, ERZ lists) makes of the children of its
/// root. [`Builder`] does the rest.
pub trait Family: Send {
    /// What the consumer receives.
    type Item;

    /// Whether the child of the root `name` is a record (ZAP, PERS, OP, …) rather than a part
    /// of the header: records are counted in [`Summary::records`] / [`Summary::refused`].
    fn is_record(&self, name: &str) -> bool;

    /// Converts the clean child `root` (named `name`). Values no typed field takes go to
    /// `cx.other`; the family moves them into the item (they are counted from
    /// [`Family::unplaced`]) or leaves them in `cx` (counted there). `None`: no item now.
    fn build(&mut self, name: &'static str, root: El<'_>, cx: &mut Cx) -> Option<Self::Item>;

    /// Values the item keeps in its `other` list.
    fn unplaced(item: &Self::Item) -> usize;

    /// A child of the root named `name` begins; an item to hand on before it, if any (the ERZ
    /// lists hand their header on before the first record).
    fn starting(&mut self, _name: &'static str) -> Option<Self::Item> {
        None
    }

    /// A child of the root ended with a finding and is not built.
    fn refused(&mut self, _is_record: bool) {}

    /// A record ended with a finding: an item that says so, built from what of it passed
    /// the check (`root`), if the family hands one on (accounts do: a patient whose only case
    /// was refused still has a case). `None` by default.
    fn refused_record(&mut self, _root: El<'_>, _cx: &mut Cx) -> Option<Self::Item> {
        None
    }

    /// The check ended; a last item to hand on, if any.
    fn ending(&mut self) -> Option<Self::Item> {
        None
    }
}

/// Builds the items of one file as the check streams past and hands each clean one to its
/// consumer: the `Sink` of every family (see the module `records`).
pub struct Builder<'a, F: Family> {
    recorder: Recorder,
    family: F,
    on_item: Box<dyn FnMut(F::Item) + Send + 'a>,
}

impl<'a, F: Family> Builder<'a, F> {
    /// A builder of `family` handing each item to `on_item`.
    pub(super) fn with_family(family: F, on_item: impl FnMut(F::Item) + Send + 'a) -> Self {
        Self {
            recorder: Recorder::default(),
            family,
            on_item: Box::new(on_item),
        }
    }

    /// The counts, once the check has ended.
    #[must_use]
    pub fn finish(mut self) -> Summary {
        if let Some(item) = self.family.ending() {
            self.emit(item);
        }
        let family = &self.family;
        self.recorder.finish(|name| family.is_record(name))
    }

    fn emit(&mut self, item: F::Item) {
        self.recorder.summary.unplaced += u64::try_from(F::unplaced(&item)).unwrap_or(u64::MAX);
        (self.on_item)(item);
    }
}

impl<F: Family> Sink for Builder<'_, F> {
    fn open(&mut self, name: &'static str, depth: usize, line: u64) {
        if depth == 1
            && let Some(item) = self.family.starting(name)
        {
            self.emit(item);
        }
        self.recorder.open(name, depth, line);
    }

    fn value(&mut self, _name: &'static str, value: &str) {
        self.recorder.value(value);
    }

    fn close(&mut self, _name: &'static str, _depth: usize) {
        self.recorder.close();
    }

    fn item(&mut self, name: &'static str, findings: u64) {
        let is_record = self.family.is_record(name);
        if !self.recorder.ended(is_record, findings) {
            self.family.refused(is_record);
            if is_record {
                let mut cx = Cx::default();
                let item = self
                    .recorder
                    .root()
                    .and_then(|root| self.family.refused_record(root, &mut cx));
                if let Some(item) = item {
                    self.emit(item);
                }
            }
            return;
        }
        let Some(root) = self.recorder.root() else {
            return;
        };
        let mut cx = Cx::default();
        let item = self.family.build(name, root, &mut cx);
        self.recorder.summary.unplaced += u64::try_from(cx.other.len()).unwrap_or(u64::MAX);
        if let Some(item) = item {
            self.emit(item);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree() -> Tree {
        let mut t = Tree::default();
        // <A><B>1</B><C><D> x  y </D></C><E>2026-01-31T10:00:00</E></A>
        t.open("A", 1);
        t.open("B", 2);
        t.value("1");
        t.close();
        t.open("C", 3);
        t.open("D", 3);
        t.value(" x  y ");
        t.close();
        t.close();
        t.open("E", 4);
        t.value("2026-01-31T10:00:00");
        t.close();
        t.close();
        t
    }

    #[test]
    fn children_skip_subtrees() {
        let tree = tree();
        let root = tree.root().unwrap();
        let names: Vec<_> = root.children().map(El::name).collect();
        assert_eq!(names, ["B", "C", "E"]);
        let c = root.children().nth(1).unwrap();
        assert_eq!(c.children().map(El::name).collect::<Vec<_>>(), ["D"]);
        assert_eq!(c.raw(), None);
        assert_eq!(c.line(), 3);
    }

    #[test]
    fn conversions_and_what_cannot_convert() {
        let tree = tree();
        let root = tree.root().unwrap();
        let [one, block, when]: [El<'_>; 3] =
            root.children().collect::<Vec<_>>().try_into().unwrap();
        let mut cx = Cx::default();
        assert_eq!(cx.int::<u8>(one), Some(1));
        assert_eq!(cx.flag(one), Some(true));
        assert_eq!(cx.date(when), NaiveDate::from_ymd_opt(2026, 1, 31));
        let words = block.children().next().unwrap();
        assert_eq!(cx.text(words), "x y");
        assert!(cx.other.is_empty());
        assert_eq!(cx.int::<u8>(words), None);
        assert_eq!(cx.text(block), "", "element content has no text");
        assert_eq!(
            cx.other,
            [("D", " x  y ".to_owned()), ("D", " x  y ".to_owned())]
        );
    }

    #[test]
    fn integers_follow_the_lexical_space() {
        assert_eq!(parse_unsigned("007"), Some(7));
        assert_eq!(parse_unsigned("+12"), Some(12));
        assert_eq!(parse_unsigned("-0"), Some(0));
        assert_eq!(parse_unsigned("-1"), None);
        assert_eq!(parse_unsigned(""), None);
        assert_eq!(parse_unsigned("1.0"), None);
        assert_eq!(parse_unsigned("99999999999999999999"), None);
        assert_eq!(parse_date("2026-02-30"), None);
        assert_eq!(
            parse_date("2026-01-15Z"),
            NaiveDate::from_ymd_opt(2026, 1, 15)
        );
        assert_eq!(
            parse_date("2026-01-15+03:00"),
            NaiveDate::from_ymd_opt(2026, 1, 15)
        );
        assert_eq!(parse_date("2026-01-1"), None);
    }
}
