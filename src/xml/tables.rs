//! The validation tables compiled from the XSDs of `schemas/` at build time (`build.rs`): one
//! [`Schema`] per XSD, made of element declarations, one deterministic automaton per content
//! model, one checker description per simple type, and the `xs:unique` constraints.
//!
//! The tables are plain `static` data; `validate::schema` drives them from quick-xml events.
//! Names are the XML names; indexes into the slices are `u16`.

/// Index of an [`ElementDecl`] in [`Schema::elements`].
pub type ElemId = u16;
/// Index of a [`ContentModel`] in [`Schema::models`].
pub type ModelId = u16;
/// Index of a [`SimpleType`] in [`Schema::simple_types`].
pub type SimpleId = u16;

/// One compiled XSD.
#[derive(Debug)]
pub struct Schema {
    /// `zl_list/3.2/H`: the XSD's path under `schemas/` without `.xsd`.
    pub name: &'static str,
    /// The declaration of the root element.
    pub root: ElemId,
    /// Every element declaration (global and local), each with its own content.
    pub elements: &'static [ElementDecl],
    /// Every complex content model.
    pub models: &'static [ContentModel],
    /// Every simple type used by an element with simple content.
    pub simple_types: &'static [SimpleType],
    /// Every `xs:unique` / `xs:key`.
    pub uniques: &'static [Unique],
}

/// An element declaration: its name and what it may contain.
#[derive(Debug)]
pub struct ElementDecl {
    /// The XML name (`N_ZAP`).
    pub name: &'static str,
    /// `minOccurs` ≥ 1 where it is declared: an empty value is then "mandatory element empty"
    /// (F012 902) rather than a wrong value (903).
    pub mandatory: bool,
    /// Its content.
    pub content: Content,
}

/// What an element contains.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Content {
    /// Text of a simple type, no child elements.
    Simple(SimpleId),
    /// Child elements as the content model says (no text but whitespace).
    Complex(ModelId),
    /// Nothing at all.
    Empty,
}

/// A deterministic automaton over child element names (a Glushkov automaton: XSD's Unique
/// Particle Attribution rule makes it deterministic without subset construction).
#[derive(Debug)]
pub struct ContentModel {
    /// Index of the start state in `states`.
    pub start: u16,
    /// The states.
    pub states: &'static [ModelState],
}

/// One state of a content model.
#[derive(Debug)]
pub struct ModelState {
    /// Whether the element may end in this state.
    pub accepting: bool,
    /// On a child element named `.0`, the child's declaration is `.1` and the next state `.2`.
    pub transitions: &'static [(&'static str, ElemId, u16)],
}

/// The primitive a simple type restricts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Primitive {
    /// `xs:string` and its derivations (`xs:token`, `xs:normalizedString`).
    String,
    /// `xs:integer`, `xs:nonNegativeInteger`, `xs:positiveInteger`, `xs:int`, `xs:long`, … (the
    /// sign rules of the built-in are expressed with `min_inclusive`).
    Integer,
    /// `xs:decimal`.
    Decimal,
    /// `xs:date` (`YYYY-MM-DD`, a real calendar date, optional time zone).
    Date,
    /// `xs:dateTime`.
    DateTime,
    /// `xs:boolean`.
    Boolean,
    /// A union of simple types: valid if any member is.
    Union(&'static [SimpleId]),
}

/// How whitespace is normalised before the facets are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhiteSpace {
    /// Kept as it is.
    Preserve,
    /// Tabs and newlines become spaces.
    Replace,
    /// Replace, then runs of spaces become one and ends are trimmed.
    Collapse,
}

/// A simple type and all its facets (those of its base types folded in).
#[derive(Debug)]
pub struct SimpleType {
    /// The type's name in the XSD, or the element's for an anonymous type (for messages).
    pub name: &'static str,
    /// The primitive restricted.
    pub primitive: Primitive,
    /// Whitespace handling.
    pub white_space: WhiteSpace,
    /// `xs:length`, in characters.
    pub length: Option<u32>,
    /// `xs:minLength`, in characters.
    pub min_length: Option<u32>,
    /// `xs:maxLength`, in characters.
    pub max_length: Option<u32>,
    /// `xs:totalDigits`.
    pub total_digits: Option<u8>,
    /// `xs:fractionDigits`.
    pub fraction_digits: Option<u8>,
    /// `xs:minInclusive`, as written in the XSD (compared by value for numbers and dates).
    pub min_inclusive: Option<&'static str>,
    /// `xs:maxInclusive`.
    pub max_inclusive: Option<&'static str>,
    /// `xs:minExclusive`.
    pub min_exclusive: Option<&'static str>,
    /// `xs:maxExclusive`.
    pub max_exclusive: Option<&'static str>,
    /// `xs:pattern`s; the value must match each (each is anchored: the whole value).
    pub patterns: &'static [&'static str],
    /// `xs:enumeration` values; empty means no enumeration.
    pub enumeration: &'static [&'static str],
}

/// An `xs:unique` or `xs:key`: within each instance of `scope`, the `field` of every element
/// reached by `selector` is unique (F012 905). A missing field is ignored for `xs:unique` and
/// an error for `xs:key`.
#[derive(Debug)]
pub struct Unique {
    /// Its name in the XSD (`uq_N_ZAP`).
    pub name: &'static str,
    /// The element declaration it is attached to.
    pub scope: ElemId,
    /// Child element names from the scope down to the selected element (`["ZAP"]`,
    /// `["ZAP", "Z_SL"]`).
    pub selector: &'static [&'static str],
    /// Child element names from the selected element down to the field (`["N_ZAP"]`).
    pub field: &'static [&'static str],
    /// `xs:key` (the field is required) rather than `xs:unique`.
    pub is_key: bool,
}
