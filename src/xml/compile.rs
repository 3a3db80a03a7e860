//! Compiles the XSDs of `schemas/` into the validation tables of `src/xml/tables.rs`, as Rust
//! source text (`pub static <IDENT>: Schema = Schema { .. };`), at build time.
//!
//! The XSD is read by xsd-parser in three stages: its `Parser` gives the raw `xs:` tree of the
//! file and of everything it `xs:include`s (resolved from files only, never the network), its
//! `Interpreter` turns that into a `MetaTypes` model (complex types with their sequence / choice
//! groups and cardinalities, simple types with their facets folded in from the base chain,
//! enumerations, unions), and its `Optimizer` resolves plain type aliases. The content models
//! come from `MetaTypes`: each complex type becomes one Glushkov automaton (bounded `maxOccurs`
//! unrolled, the result checked for determinism). What the model does not keep is read from the
//! raw tree of the parser stage: the root element, the `xs:unique` / `xs:key` identity
//! constraints, and an audit of constructs the model would silently lose (facets it ignores,
//! several patterns in one restriction, both a minInclusive and a minExclusive). Whatever the
//! tables cannot express is a [`CompileError`] naming the file and the construct: nothing is
//! dropped silently.
//!
//! This file is self-contained so that `build.rs` can include it with `#[path]`. The generated
//! code names the table types unqualified (`Schema`, `ElementDecl`, ...): the includer brings
//! them into scope.

use std::collections::{BTreeSet, HashMap};
use std::fmt::{self, Write as _};
use std::ops::Bound;
use std::path::{Path, PathBuf};

use xsd_parser::config::Namespace;
use xsd_parser::models::IdentType;
use xsd_parser::models::meta::{
    Base, ComplexMeta, Constrains, CustomMeta, ElementMeta, ElementMetaVariant, ElementMode,
    GroupMeta, MetaTypeVariant, MetaTypes, WhiteSpace as XsdWhiteSpace,
};
use xsd_parser::models::schema::xs::{
    ComplexBaseType, ComplexBaseTypeContent, ElementType, ElementTypeContent, Facet, GroupType,
    GroupTypeContent, KeybaseType, RestrictionContent, SchemaContent, SimpleBaseType,
    SimpleBaseTypeContent,
};
use xsd_parser::models::schema::{MaxOccurs, NamespaceId};
use xsd_parser::pipeline::parser::resolver::FileResolver;
use xsd_parser::{Interpreter, Optimizer, Parser, Schemas, TypeIdent};

/// The built-in `xs:` types. xsd-parser's interpreter needs a definition for every type it
/// meets; each of these is registered as a `CustomMeta` named `xs:<name>` and mapped to a
/// primitive by [`builtin_facets`], which refuses those the tables have no primitive for.
const XS_BUILTINS: &[&str] = &[
    "anyURI",
    "QName",
    "NOTATION",
    "float",
    "double",
    "duration",
    "time",
    "gYearMonth",
    "gYear",
    "gMonthDay",
    "gDay",
    "gMonth",
    "hexBinary",
    "language",
    "Name",
    "NCName",
    "ID",
    "IDREF",
    "IDREFS",
    "ENTITY",
    "ENTITIES",
    "NMTOKEN",
    "NMTOKENS",
    "string",
    "normalizedString",
    "token",
    "integer",
    "nonNegativeInteger",
    "positiveInteger",
    "nonPositiveInteger",
    "negativeInteger",
    "long",
    "int",
    "short",
    "byte",
    "unsignedLong",
    "unsignedInt",
    "unsignedShort",
    "unsignedByte",
    "decimal",
    "date",
    "dateTime",
    "boolean",
    "base64Binary",
    "anyType",
    "anySimpleType",
];

/// The lexical space of `xs:base64Binary` (XML Schema 1.0 Part 2, 3.2.16), after whitespace
/// collapse: the tables have no base64 primitive, so it is a string with this pattern.
const BASE64_PATTERN: &str = "((([A-Za-z0-9+/] ?){4})*(([A-Za-z0-9+/] ?){3}[A-Za-z0-9+/]|([A-Za-z0-9+/] ?){2}[AEIMQUYcgkosw048] ?=|[A-Za-z0-9+/] ?[AQgw] ?= ?=))?";

/// The largest bounded `maxOccurs` unrolled into automaton states.
const MAX_UNROLL: usize = 64;

/// The most positions (states) one content model may have.
const MAX_POSITIONS: usize = 4096;

// =============================================================================================
// Errors
// =============================================================================================

/// Why an XSD could not be compiled.
#[derive(Debug)]
pub enum CompileError {
    /// The XSD uses something the tables cannot express, or is not a valid XSD.
    Unsupported {
        /// The XSD file (relative to the schemas folder).
        file: String,
        /// The construct (`xs:any in type Zap`, `element DATE_Z_1`, ...).
        construct: String,
        /// What is wrong with it.
        detail: String,
    },
    /// xsd-parser refused the file (not found, not well formed, unknown type, ...).
    XsdParser {
        /// The XSD file.
        file: String,
        /// `parser`, `interpreter` or `optimizer`.
        stage: &'static str,
        /// xsd-parser's message.
        detail: String,
    },
    /// A file system error while listing the schemas.
    Io {
        /// The path.
        path: String,
        /// The message.
        detail: String,
    },
}

impl fmt::Display for CompileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unsupported {
                file,
                construct,
                detail,
            } => {
                write!(f, "{file}: {construct}: {detail}")
            }
            Self::XsdParser {
                file,
                stage,
                detail,
            } => {
                write!(f, "{file}: xsd-parser {stage}: {detail}")
            }
            Self::Io { path, detail } => write!(f, "{path}: {detail}"),
        }
    }
}

impl std::error::Error for CompileError {}

/// Shorthand for an [`CompileError::Unsupported`].
fn unsupported(
    file: &str,
    construct: impl Into<String>,
    detail: impl Into<String>,
) -> CompileError {
    CompileError::Unsupported {
        file: file.to_owned(),
        construct: construct.into(),
        detail: detail.into(),
    }
}

// =============================================================================================
// Entry points
// =============================================================================================

/// Compiles `schemas_dir/rel` (e.g. `zl_list/3.2/H.xsd`) into
/// `pub static <ident>: Schema = Schema { .. };`.
///
/// # Errors
///
/// A [`CompileError`] naming the file and the construct when the XSD cannot be read or uses
/// something the tables cannot express.
pub fn compile_schema(schemas_dir: &Path, rel: &str, ident: &str) -> Result<String, CompileError> {
    let loaded = load(schemas_dir, rel)?;
    let raw = audit_raw_tree(&loaded)?;
    let root = pick_root(rel, &raw.globals)?;
    let mut builder = Builder::new(rel, &loaded.types, loaded.xs);
    builder.compile_root(&root)?;
    let uniques = builder.resolve_uniques(&raw.uniques)?;
    let name = rel.strip_suffix(".xsd").unwrap_or(rel);
    Ok(builder.emit(ident, name, &uniques))
}

/// The XSDs under `dir` (relative, with `/`), without the `common.xsd` files.
///
/// # Errors
///
/// When a folder cannot be read.
pub fn list_schema_files(schemas_dir: &Path) -> Result<Vec<String>, CompileError> {
    let mut files = Vec::new();
    list_xsds(schemas_dir, schemas_dir, &mut files)?;
    files.sort();
    Ok(files)
}

/// `zl_list/3.2/H.xsd` → `ZL_LIST_3_2_H`.
#[must_use]
pub fn static_ident(rel: &str) -> String {
    let stem = rel.strip_suffix(".xsd").unwrap_or(rel);
    stem.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

fn list_xsds(base: &Path, dir: &Path, out: &mut Vec<String>) -> Result<(), CompileError> {
    let io = |e: std::io::Error| CompileError::Io {
        path: dir.display().to_string(),
        detail: e.to_string(),
    };
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        if path.is_dir() {
            list_xsds(base, &path, out)?;
        } else if path.extension().is_some_and(|e| e == "xsd")
            && path.file_name().is_some_and(|n| n != "common.xsd")
        {
            let rel = path.strip_prefix(base).unwrap_or(&path);
            let rel: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            out.push(rel.join("/"));
        }
    }
    Ok(())
}

// =============================================================================================
// Stage 1-3: xsd-parser
// =============================================================================================

/// What xsd-parser gives for one XSD.
struct Loaded {
    rel: String,
    dir: PathBuf,
    main: PathBuf,
    schemas: Schemas,
    types: MetaTypes,
    xs: NamespaceId,
}

/// Runs xsd-parser's parser (file resolver only, includes resolved), interpreter (with the
/// `xs:` built-ins registered as custom types, so that none is mapped to a Rust type) and
/// optimizer (`resolve_typedefs` only: the other passes reshape the model for code generation).
fn load(schemas_dir: &Path, rel: &str) -> Result<Loaded, CompileError> {
    let main = schemas_dir.join(rel);
    let parse_err = |e: &dyn fmt::Display| CompileError::XsdParser {
        file: rel.to_owned(),
        stage: "parser",
        detail: e.to_string(),
    };
    let schemas = Parser::new()
        .with_resolver(FileResolver::new())
        .resolve_includes(true)
        .with_default_namespaces()
        .add_schema_from_file(&main)
        .map_err(|e| parse_err(&e))?
        .finish();
    let xs = schemas
        .resolve_namespace(&Some(Namespace::XS))
        .ok_or_else(|| CompileError::XsdParser {
            file: rel.to_owned(),
            stage: "parser",
            detail: "the XML Schema namespace is not known".into(),
        })?;
    let interp_err = |e: &dyn fmt::Display| CompileError::XsdParser {
        file: rel.to_owned(),
        stage: "interpreter",
        detail: e.to_string(),
    };
    let mut interpreter = Interpreter::new(&schemas);
    for name in XS_BUILTINS {
        interpreter = interpreter
            .with_type(
                TypeIdent::type_(name).with_ns(xs),
                CustomMeta::new(format!("xs:{name}")),
            )
            .map_err(|e| interp_err(&e))?;
    }
    let (types, _idents) = interpreter.finish().map_err(|e| interp_err(&e))?;
    let types = Optimizer::new(types).resolve_typedefs().finish();
    Ok(Loaded {
        rel: rel.to_owned(),
        dir: schemas_dir.to_owned(),
        main,
        schemas,
        types,
        xs,
    })
}

// =============================================================================================
// The raw tree: root, identity constraints, audit
// =============================================================================================

/// Where an element is declared: `element:NAME` (a global element) or `type:NAME` (a named
/// complex type), then the names of the elements declared in anonymous types down to it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Site {
    context: String,
    path: Vec<String>,
}

/// An `xs:unique` / `xs:key` as the raw tree has it.
struct RawUnique {
    file: String,
    name: String,
    is_key: bool,
    site: Site,
    selector: Vec<String>,
    field: Vec<String>,
}

/// What the raw tree gives beyond the model.
struct Raw {
    /// Global elements of the main file.
    globals: Vec<String>,
    uniques: Vec<RawUnique>,
}

/// Walks the parser's `xs:` tree of every loaded file: collects the main file's global
/// elements and every identity constraint, and refuses what the model would lose.
#[expect(
    clippy::too_many_lines,
    reason = "one match arm per top-level xs: construct"
)]
fn audit_raw_tree(loaded: &Loaded) -> Result<Raw, CompileError> {
    let mut raw = Raw {
        globals: Vec::new(),
        uniques: Vec::new(),
    };
    let main = loaded
        .main
        .canonicalize()
        .unwrap_or_else(|_| loaded.main.clone());
    for (_id, info) in loaded.schemas.schemas() {
        let Some(location) = &info.location else {
            continue;
        };
        let path = location.to_file_path().map_err(|()| {
            unsupported(
                &loaded.rel,
                format!("schema {location}"),
                "only local files are read",
            )
        })?;
        let file = path
            .strip_prefix(&loaded.dir)
            .map_or_else(|_| path.display().to_string(), |p| p.display().to_string());
        let is_main = path.canonicalize().unwrap_or_else(|_| path.clone()) == main;
        let mut walker = RawWalker {
            file: &file,
            uniques: &mut raw.uniques,
        };
        for item in &info.schema.content {
            match item {
                SchemaContent::Include(inc) if inc.schema_location.contains("://") => {
                    return Err(unsupported(
                        &file,
                        format!("xs:include {}", inc.schema_location),
                        "only relative file includes are allowed",
                    ));
                }
                SchemaContent::Include(_) | SchemaContent::Annotation(_) => {}
                SchemaContent::Element(e) => {
                    let name = e.name.clone().unwrap_or_default();
                    if is_main {
                        raw.globals.push(name.clone());
                    }
                    walker.element(
                        e,
                        &Site {
                            context: format!("element:{name}"),
                            path: Vec::new(),
                        },
                    )?;
                }
                SchemaContent::ComplexType(ct) => {
                    let name = ct.name.clone().unwrap_or_default();
                    walker.complex_type(
                        ct,
                        &Site {
                            context: format!("type:{name}"),
                            path: Vec::new(),
                        },
                    )?;
                }
                SchemaContent::SimpleType(st) => walker.simple_type(st)?,
                SchemaContent::Group(g) => {
                    let name = g.name.clone().unwrap_or_default();
                    walker.group(
                        g,
                        &Site {
                            context: format!("group:{name}"),
                            path: Vec::new(),
                        },
                    )?;
                }
                SchemaContent::Import(_) => {
                    return Err(unsupported(
                        &file,
                        "xs:import",
                        "not supported (no namespaces)",
                    ));
                }
                SchemaContent::Redefine(_) => {
                    return Err(unsupported(&file, "xs:redefine", "not supported"));
                }
                SchemaContent::Override(_) => {
                    return Err(unsupported(&file, "xs:override", "not supported"));
                }
                SchemaContent::DefaultOpenContent(_) => {
                    return Err(unsupported(
                        &file,
                        "xs:defaultOpenContent",
                        "open content cannot be expressed",
                    ));
                }
                SchemaContent::AttributeGroup(_) | SchemaContent::Attribute(_) => {
                    return Err(unsupported(
                        &file,
                        "global xs:attribute",
                        "the tables have no attributes",
                    ));
                }
                SchemaContent::Notation(_) => {
                    return Err(unsupported(&file, "xs:notation", "not supported"));
                }
            }
        }
        if info.schema.target_namespace.is_some() {
            return Err(unsupported(
                &file,
                "targetNamespace",
                "the tables match local names only",
            ));
        }
    }
    Ok(raw)
}

/// One walk over the raw tree of one file.
struct RawWalker<'a> {
    file: &'a str,
    uniques: &'a mut Vec<RawUnique>,
}

impl RawWalker<'_> {
    /// `xs:element`: its identity constraints and its anonymous type.
    fn element(&mut self, e: &ElementType, site: &Site) -> Result<(), CompileError> {
        let name = e.name.as_deref().unwrap_or("?");
        if e.substitution_group.is_some() || e.abstract_ {
            return Err(unsupported(
                self.file,
                format!("element {name}"),
                "substitution groups are not supported",
            ));
        }
        if e.nillable == Some(true) {
            return Err(unsupported(
                self.file,
                format!("element {name}"),
                "nillable is not supported",
            ));
        }
        if e.default.is_some() || e.fixed.is_some() {
            return Err(unsupported(
                self.file,
                format!("element {name}"),
                "default / fixed values are not supported",
            ));
        }
        for c in &e.content {
            match c {
                ElementTypeContent::Annotation(_) => {}
                ElementTypeContent::SimpleType(st) => self.simple_type(st)?,
                ElementTypeContent::ComplexType(ct) => self.complex_type(ct, site)?,
                ElementTypeContent::Unique(k) => self.identity(k, false, name, site)?,
                ElementTypeContent::Key(k) => self.identity(k, true, name, site)?,
                ElementTypeContent::Keyref(_) => {
                    return Err(unsupported(
                        self.file,
                        format!("xs:keyref in element {name}"),
                        "not supported by the tables",
                    ));
                }
                ElementTypeContent::Alternative(_) => {
                    return Err(unsupported(
                        self.file,
                        format!("xs:alternative in element {name}"),
                        "not supported",
                    ));
                }
            }
        }
        Ok(())
    }

    /// `xs:unique` / `xs:key`: kept with the site of the element it is declared on.
    fn identity(
        &mut self,
        k: &KeybaseType,
        is_key: bool,
        elem: &str,
        site: &Site,
    ) -> Result<(), CompileError> {
        let kind = if is_key { "xs:key" } else { "xs:unique" };
        let name = k.name.clone().unwrap_or_default();
        let construct = format!("{kind} {name} in element {elem}");
        let Some(content) = &k.content else {
            return Err(unsupported(
                self.file,
                construct,
                "a reference (ref=) is not supported",
            ));
        };
        let [field] = content.field.as_slice() else {
            return Err(unsupported(
                self.file,
                construct,
                "exactly one xs:field is supported",
            ));
        };
        let selector = child_path(&content.selector.xpath)
            .map_err(|d| unsupported(self.file, construct.clone(), format!("selector {d}")))?;
        let field = child_path(&field.xpath)
            .map_err(|d| unsupported(self.file, construct.clone(), format!("field {d}")))?;
        if site.context.starts_with("group:") {
            return Err(unsupported(
                self.file,
                construct,
                "identity constraints inside a named xs:group are not supported",
            ));
        }
        self.uniques.push(RawUnique {
            file: self.file.to_owned(),
            name,
            is_key,
            site: site.clone(),
            selector,
            field,
        });
        Ok(())
    }

    /// `xs:complexType`: only a particle, no attributes, no derivation.
    fn complex_type(&mut self, ct: &ComplexBaseType, site: &Site) -> Result<(), CompileError> {
        let name = ct
            .name
            .as_deref()
            .map_or_else(|| format!("the type of {}", site_name(site)), str::to_owned);
        if ct.mixed == Some(true) {
            return Err(unsupported(
                self.file,
                format!("complexType {name}"),
                "mixed content is not supported",
            ));
        }
        for c in &ct.content {
            match c {
                ComplexBaseTypeContent::Annotation(_) => {}
                ComplexBaseTypeContent::Sequence(g)
                | ComplexBaseTypeContent::Choice(g)
                | ComplexBaseTypeContent::Group(g) => self.group(g, site)?,
                ComplexBaseTypeContent::All(_) => {
                    return Err(unsupported(
                        self.file,
                        format!("xs:all in {name}"),
                        "not supported",
                    ));
                }
                ComplexBaseTypeContent::Attribute(_)
                | ComplexBaseTypeContent::AttributeGroup(_) => {
                    return Err(unsupported(
                        self.file,
                        format!("xs:attribute in {name}"),
                        "the tables have no attributes",
                    ));
                }
                ComplexBaseTypeContent::AnyAttribute(_) => {
                    return Err(unsupported(
                        self.file,
                        format!("xs:anyAttribute in {name}"),
                        "the tables have no attributes",
                    ));
                }
                ComplexBaseTypeContent::SimpleContent(_)
                | ComplexBaseTypeContent::ComplexContent(_) => {
                    return Err(unsupported(
                        self.file,
                        format!("complexType {name}"),
                        "derivation (simpleContent / complexContent) is not supported",
                    ));
                }
                ComplexBaseTypeContent::OpenContent(_) => {
                    return Err(unsupported(
                        self.file,
                        format!("xs:openContent in {name}"),
                        "open content cannot be expressed",
                    ));
                }
                ComplexBaseTypeContent::Assert(_) => {
                    return Err(unsupported(
                        self.file,
                        format!("xs:assert in {name}"),
                        "not supported",
                    ));
                }
            }
        }
        Ok(())
    }

    /// `xs:sequence` / `xs:choice` / `xs:group`: local elements get the site path + their name.
    /// Refuses two element particles of one name directly in one group: xsd-parser's
    /// interpreter keys a group's elements by name and merges them (`A, B, A` becomes `A, B`).
    fn group(&mut self, g: &GroupType, site: &Site) -> Result<(), CompileError> {
        let mut names = Vec::new();
        for c in &g.content {
            match c {
                GroupTypeContent::Annotation(_) => {}
                GroupTypeContent::Element(e) => {
                    let name = e.name.clone().or_else(|| {
                        e.ref_
                            .as_ref()
                            .map(|r| String::from_utf8_lossy(r.local_name()).into_owned())
                    });
                    if let Some(name) = name {
                        if names.contains(&name) {
                            return Err(unsupported(
                                self.file,
                                format!("element {name} in {}", site_name(site)),
                                "the same element twice in one sequence / choice (xsd-parser's model merges them); wrap one in its own xs:sequence",
                            ));
                        }
                        names.push(name);
                    }
                    if let Some(name) = &e.name {
                        let mut child = site.clone();
                        child.path.push(name.clone());
                        self.element(e, &child)?;
                    }
                }
                GroupTypeContent::Group(g)
                | GroupTypeContent::Choice(g)
                | GroupTypeContent::Sequence(g) => {
                    self.group(g, site)?;
                }
                GroupTypeContent::All(_) => {
                    return Err(unsupported(
                        self.file,
                        format!("xs:all in {}", site_name(site)),
                        "not supported",
                    ));
                }
                GroupTypeContent::Any(_) => {
                    return Err(unsupported(
                        self.file,
                        format!("xs:any in {}", site_name(site)),
                        "wildcards cannot be expressed by tables.rs (no wildcard transition, no lax lookup of global elements)",
                    ));
                }
            }
        }
        Ok(())
    }

    /// `xs:simpleType`: refuses what xsd-parser's `Constrains` would lose.
    fn simple_type(&mut self, st: &SimpleBaseType) -> Result<(), CompileError> {
        let name = st.name.as_deref().unwrap_or("(anonymous)");
        for c in &st.content {
            match c {
                SimpleBaseTypeContent::Annotation(_) => {}
                SimpleBaseTypeContent::List(_) => {
                    return Err(unsupported(
                        self.file,
                        format!("xs:list in simpleType {name}"),
                        "not supported",
                    ));
                }
                SimpleBaseTypeContent::Union(u) => {
                    for m in &u.simple_type {
                        self.simple_type(m)?;
                    }
                }
                SimpleBaseTypeContent::Restriction(r) => {
                    let (mut patterns, mut min_in, mut min_ex, mut max_in, mut max_ex) =
                        (0, false, false, false, false);
                    for rc in &r.content {
                        match rc {
                            RestrictionContent::Annotation(_) => {}
                            RestrictionContent::SimpleType(inner) => self.simple_type(inner)?,
                            RestrictionContent::Facet(f) => match f {
                                Facet::Pattern(_) => patterns += 1,
                                Facet::MinInclusive(_) => min_in = true,
                                Facet::MinExclusive(_) => min_ex = true,
                                Facet::MaxInclusive(_) => max_in = true,
                                Facet::MaxExclusive(_) => max_ex = true,
                                Facet::Enumeration(v) if v.value.trim() != v.value => {
                                    return Err(unsupported(
                                        self.file,
                                        format!(
                                            "xs:enumeration {:?} in simpleType {name}",
                                            v.value
                                        ),
                                        "xsd-parser trims enumeration values; write it without surrounding blanks",
                                    ));
                                }
                                Facet::Assertion(_) => {
                                    return Err(unsupported(
                                        self.file,
                                        format!("xs:assertion in simpleType {name}"),
                                        "not supported",
                                    ));
                                }
                                Facet::ExplicitTimezone(_) => {
                                    return Err(unsupported(
                                        self.file,
                                        format!("xs:explicitTimezone in simpleType {name}"),
                                        "not supported",
                                    ));
                                }
                                _ => {}
                            },
                        }
                    }
                    if patterns > 1 {
                        return Err(unsupported(
                            self.file,
                            format!("simpleType {name}"),
                            "several xs:pattern in one restriction (they are alternatives, the model keeps them as a conjunction); join them with |",
                        ));
                    }
                    if (min_in && min_ex) || (max_in && max_ex) {
                        return Err(unsupported(
                            self.file,
                            format!("simpleType {name}"),
                            "both an inclusive and an exclusive bound on the same side (xsd-parser keeps one)",
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}

fn site_name(site: &Site) -> String {
    site.path
        .last()
        .map_or_else(|| site.context.clone(), |n| format!("element {n}"))
}

/// `ZAP/Z_SL` → `["ZAP", "Z_SL"]`; anything but a plain relative child path is refused.
fn child_path(xpath: &str) -> Result<Vec<String>, String> {
    let steps: Vec<String> = xpath
        .trim()
        .split('/')
        .map(|s| s.trim().to_owned())
        .collect();
    let plain = |s: &String| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_alphanumeric() || c == '_' || c == '-' || c == '.')
            && s != "."
            && s != ".."
    };
    if steps.iter().all(plain) {
        Ok(steps)
    } else {
        Err(format!(
            "{xpath:?}: only a relative path of child element names is supported"
        ))
    }
}

/// The document element: the one global element of the main file.
fn pick_root(rel: &str, globals: &[String]) -> Result<String, CompileError> {
    match globals {
        [one] => Ok(one.clone()),
        [] => Err(unsupported(
            rel,
            "root",
            "the file declares no global element",
        )),
        many => Err(unsupported(
            rel,
            "root",
            format!(
                "several global elements ({}): the root is ambiguous",
                many.join(", ")
            ),
        )),
    }
}

// =============================================================================================
// The model: elements, content models, simple types
// =============================================================================================

/// The primitive of a compiled simple type.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Prim {
    String,
    Integer,
    Decimal,
    Date,
    DateTime,
    Boolean,
    Union(Vec<u16>),
}

/// Facets folded along the base chain.
#[derive(Debug, Clone)]
struct Facets {
    prim: Prim,
    white_space: XsdWhiteSpace,
    /// `xs:base64Binary` somewhere in the chain (length facets would count octets).
    base64: bool,
    min_length: Option<usize>,
    max_length: Option<usize>,
    total_digits: Option<usize>,
    fraction_digits: Option<usize>,
    min_inclusive: Option<String>,
    max_inclusive: Option<String>,
    min_exclusive: Option<String>,
    max_exclusive: Option<String>,
    patterns: Vec<String>,
    enumeration: Vec<String>,
}

impl Facets {
    fn new(prim: Prim, white_space: XsdWhiteSpace) -> Self {
        Self {
            prim,
            white_space,
            base64: false,
            min_length: None,
            max_length: None,
            total_digits: None,
            fraction_digits: None,
            min_inclusive: None,
            max_inclusive: None,
            min_exclusive: None,
            max_exclusive: None,
            patterns: Vec::new(),
            enumeration: Vec::new(),
        }
    }

    /// A derivation step's facets on top of its base's (derived ones win; patterns add up,
    /// as they are `AND`ed across steps; whitespace only tightens).
    fn restrict(&mut self, c: &Constrains) {
        if c.min_length.is_some() {
            self.min_length = c.min_length;
        }
        if c.max_length.is_some() {
            self.max_length = c.max_length;
        }
        if c.total_digits.is_some() {
            self.total_digits = c.total_digits;
        }
        if c.fraction_digits.is_some() {
            self.fraction_digits = c.fraction_digits;
        }
        match &c.range.start {
            Bound::Included(v) => self.min_inclusive = Some(v.clone()),
            Bound::Excluded(v) => self.min_exclusive = Some(v.clone()),
            Bound::Unbounded => {}
        }
        match &c.range.end {
            Bound::Included(v) => self.max_inclusive = Some(v.clone()),
            Bound::Excluded(v) => self.max_exclusive = Some(v.clone()),
            Bound::Unbounded => {}
        }
        for p in &c.patterns {
            if !self.patterns.contains(p) {
                self.patterns.push(p.clone());
            }
        }
        self.white_space = tighter(self.white_space, c.whitespace);
    }
}

fn ws_rank(w: XsdWhiteSpace) -> u8 {
    match w {
        XsdWhiteSpace::Preserve => 0,
        XsdWhiteSpace::Replace => 1,
        XsdWhiteSpace::Collapse => 2,
    }
}

fn tighter(a: XsdWhiteSpace, b: XsdWhiteSpace) -> XsdWhiteSpace {
    if ws_rank(b) > ws_rank(a) { b } else { a }
}

/// The facets of a built-in `xs:` type.
fn builtin_facets(name: &str) -> Option<Facets> {
    use XsdWhiteSpace::{Collapse, Preserve, Replace};
    let int = |min: Option<&str>, max: Option<&str>| {
        let mut f = Facets::new(Prim::Integer, Collapse);
        f.min_inclusive = min.map(str::to_owned);
        f.max_inclusive = max.map(str::to_owned);
        f
    };
    Some(match name {
        "string" => Facets::new(Prim::String, Preserve),
        "normalizedString" => Facets::new(Prim::String, Replace),
        "token" => Facets::new(Prim::String, Collapse),
        "integer" => int(None, None),
        "nonNegativeInteger" => int(Some("0"), None),
        "positiveInteger" => int(Some("1"), None),
        "nonPositiveInteger" => int(None, Some("0")),
        "negativeInteger" => int(None, Some("-1")),
        "long" => int(Some("-9223372036854775808"), Some("9223372036854775807")),
        "int" => int(Some("-2147483648"), Some("2147483647")),
        "short" => int(Some("-32768"), Some("32767")),
        "byte" => int(Some("-128"), Some("127")),
        "unsignedLong" => int(Some("0"), Some("18446744073709551615")),
        "unsignedInt" => int(Some("0"), Some("4294967295")),
        "unsignedShort" => int(Some("0"), Some("65535")),
        "unsignedByte" => int(Some("0"), Some("255")),
        "decimal" => Facets::new(Prim::Decimal, Collapse),
        "date" => Facets::new(Prim::Date, Collapse),
        "dateTime" => Facets::new(Prim::DateTime, Collapse),
        "boolean" => Facets::new(Prim::Boolean, Collapse),
        "base64Binary" => {
            let mut f = Facets::new(Prim::String, Collapse);
            f.base64 = true;
            f.patterns.push(BASE64_PATTERN.to_owned());
            f
        }
        _ => return None,
    })
}

/// One transition: on the child `.0`, declaration `.1`, next state `.2`.
type Transition = (String, u16, u16);

/// A compiled content model before emission: (accepting, transitions) per state.
struct Model {
    start: u16,
    states: Vec<(bool, Vec<Transition>)>,
}

/// An identity constraint mapped to a declaration.
struct ResolvedUnique {
    name: String,
    scope: u16,
    selector: Vec<String>,
    field: Vec<String>,
    is_key: bool,
}

/// A compiled simple type before emission.
struct Simple {
    name: String,
    facets: Facets,
}

/// An element declaration before emission.
enum ElemContent {
    Simple(u16),
    Complex(u16),
    Empty,
    /// Being compiled (a recursive reference resolves later).
    Pending,
}

/// A particle of a content model, elements already declared.
enum Particle {
    Elem {
        name: String,
        elem: u16,
    },
    Seq(Vec<Particle>),
    Choice(Vec<Particle>),
    Repeat {
        inner: Box<Particle>,
        min: usize,
        max: Option<usize>,
    },
}

/// Builds the tables of one schema from the `MetaTypes` model.
struct Builder<'a> {
    file: &'a str,
    types: &'a MetaTypes,
    xs: NamespaceId,
    root: u16,
    /// Name, `mandatory` (minOccurs ≥ 1 on some particle of it), content.
    elements: Vec<(String, bool, ElemContent)>,
    elem_index: HashMap<(Option<TypeIdent>, String), u16>,
    elem_sites: Vec<Site>,
    models: Vec<Option<Model>>,
    model_index: HashMap<TypeIdent, u16>,
    simples: Vec<Simple>,
    simple_index: HashMap<TypeIdent, u16>,
}

impl<'a> Builder<'a> {
    fn new(file: &'a str, types: &'a MetaTypes, xs: NamespaceId) -> Self {
        Self {
            file,
            types,
            xs,
            root: 0,
            elements: Vec::new(),
            elem_index: HashMap::new(),
            elem_sites: Vec::new(),
            models: Vec::new(),
            model_index: HashMap::new(),
            simples: Vec::new(),
            simple_index: HashMap::new(),
        }
    }

    fn err(&self, construct: impl Into<String>, detail: impl Into<String>) -> CompileError {
        unsupported(self.file, construct, detail)
    }

    /// Declares the root element and, from it, everything reachable.
    fn compile_root(&mut self, root: &str) -> Result<(), CompileError> {
        let ident = self
            .types
            .items
            .keys()
            .find(|id| id.type_ == IdentType::Element && id.name.as_named_str() == Some(root))
            .cloned()
            .ok_or_else(|| self.err(format!("element {root}"), "not in xsd-parser's model"))?;
        let site = Site {
            context: format!("element:{root}"),
            path: Vec::new(),
        };
        self.root = self.declare_element(None, root, &ident, true, site)?;
        Ok(())
    }

    /// One element declaration per (content model it appears in, name): a second position of
    /// the same name in the same model is the same declaration (XSD's Element Declarations
    /// Consistent rule); it is `mandatory` if any of its particles has minOccurs ≥ 1.
    fn declare_element(
        &mut self,
        owner: Option<&TypeIdent>,
        name: &str,
        type_: &TypeIdent,
        mandatory: bool,
        site: Site,
    ) -> Result<u16, CompileError> {
        let key = (owner.cloned(), name.to_owned());
        if let Some(&id) = self.elem_index.get(&key) {
            self.elements[usize::from(id)].1 |= mandatory;
            return Ok(id);
        }
        let id = u16::try_from(self.elements.len())
            .map_err(|_| self.err("elements", "more than 65535 declarations"))?;
        self.elements
            .push((name.to_owned(), mandatory, ElemContent::Pending));
        self.elem_index.insert(key, id);
        // A reference to a global element starts a new site (its xs:unique are declared there).
        let site = if type_.type_ == IdentType::Element && type_.name.is_named() {
            Site {
                context: format!("element:{}", type_.name.as_str()),
                path: Vec::new(),
            }
        } else {
            site
        };
        self.elem_sites.push(site.clone());
        let content = self.element_content(name, type_, &site)?;
        self.elements[usize::from(id)].2 = content;
        Ok(id)
    }

    /// What an element of type `type_` contains.
    fn element_content(
        &mut self,
        elem: &str,
        type_: &TypeIdent,
        site: &Site,
    ) -> Result<ElemContent, CompileError> {
        let (ident, ty) = self.resolve(type_, elem)?;
        match &ty {
            MetaTypeVariant::ComplexType(cm) => self.complex_type(elem, &ident, cm, site),
            MetaTypeVariant::SimpleType(_)
            | MetaTypeVariant::Enumeration(_)
            | MetaTypeVariant::Union(_)
            | MetaTypeVariant::Custom(_) => {
                Ok(ElemContent::Simple(self.simple_type(&ident, elem)?))
            }
            other => Err(self.err(
                format!("element {elem}"),
                format!("unexpected type kind {}", variant_name(other)),
            )),
        }
    }

    /// Follows references (`xs:element ref=`, element-level anonymous types, aliases).
    fn resolve(
        &self,
        ident: &TypeIdent,
        elem: &str,
    ) -> Result<(TypeIdent, MetaTypeVariant), CompileError> {
        let mut ident = ident.clone();
        for _ in 0..64 {
            if ident.ns == self.xs {
                let name = ident.name.as_str().to_owned();
                return Ok((
                    ident,
                    MetaTypeVariant::Custom(CustomMeta::new(format!("xs:{name}"))),
                ));
            }
            let ty = self.types.items.get(&ident).ok_or_else(|| {
                self.err(
                    format!("element {elem}"),
                    format!("type {} not found", ident.name.as_str()),
                )
            })?;
            match &ty.variant {
                MetaTypeVariant::Reference(r) => {
                    if !r.is_single() {
                        return Err(self.err(
                            format!("type {}", ident.name.as_str()),
                            "a list type is not supported",
                        ));
                    }
                    if r.nillable {
                        return Err(
                            self.err(format!("element {elem}"), "nillable is not supported")
                        );
                    }
                    ident = r.type_.clone();
                }
                other => return Ok((ident, other.clone())),
            }
        }
        Err(self.err(format!("element {elem}"), "type reference chain too long"))
    }

    /// A complex type: one content model per type (shared by every element of that type).
    fn complex_type(
        &mut self,
        elem: &str,
        ident: &TypeIdent,
        cm: &ComplexMeta,
        site: &Site,
    ) -> Result<ElemContent, CompileError> {
        let tname = type_label(ident, elem);
        if cm.base != Base::None {
            return Err(self.err(
                format!("complexType {tname}"),
                "derivation by extension / restriction is not supported",
            ));
        }
        if cm.is_mixed {
            return Err(self.err(
                format!("complexType {tname}"),
                "mixed content is not supported",
            ));
        }
        if !cm.attributes.is_empty() {
            return Err(self.err(
                format!("xs:attribute in {tname}"),
                "the tables have no attributes",
            ));
        }
        if cm.is_dynamic {
            return Err(self.err(
                format!("complexType {tname}"),
                "abstract / dynamic types are not supported",
            ));
        }
        let Some(content) = &cm.content else {
            return Ok(ElemContent::Empty);
        };
        if let Some(&id) = self.model_index.get(ident) {
            return Ok(ElemContent::Complex(id));
        }
        let id = u16::try_from(self.models.len())
            .map_err(|_| self.err("models", "more than 65535 content models"))?;
        self.models.push(None);
        self.model_index.insert(ident.clone(), id);
        // Children of a named type are declared at that type; of an anonymous one, below `elem`.
        let child_site = if ident.type_ == IdentType::Type && ident.name.is_named() {
            Site {
                context: format!("type:{}", ident.name.as_str()),
                path: Vec::new(),
            }
        } else {
            site.clone()
        };
        let particle = self.group_particle(
            ident,
            content,
            cm.min_occurs,
            cm.max_occurs,
            &child_site,
            &tname,
        )?;
        let model =
            glushkov(&particle).map_err(|d| self.err(format!("content model of {tname}"), d))?;
        self.models[usize::from(id)] = Some(model);
        Ok(ElemContent::Complex(id))
    }

    /// An `xs:sequence` / `xs:choice` (possibly nested, possibly repeated).
    fn group_particle(
        &mut self,
        owner: &TypeIdent,
        group: &TypeIdent,
        min: usize,
        max: MaxOccurs,
        site: &Site,
        tname: &str,
    ) -> Result<Particle, CompileError> {
        let (_, variant) = self.resolve(group, tname)?;
        let (is_choice, meta): (bool, &GroupMeta) = match &variant {
            MetaTypeVariant::Sequence(g) => (false, g),
            MetaTypeVariant::Choice(g) => (true, g),
            MetaTypeVariant::All(_) => {
                return Err(self.err(format!("xs:all in {tname}"), "not supported"));
            }
            other => {
                return Err(self.err(
                    format!("content of {tname}"),
                    format!("unexpected group kind {}", variant_name(other)),
                ));
            }
        };
        if meta.is_mixed {
            return Err(self.err(
                format!("content of {tname}"),
                "mixed content is not supported",
            ));
        }
        let mut items = Vec::new();
        for el in &*meta.elements {
            items.push(self.element_particle(owner, el, site, tname)?);
        }
        let inner = if is_choice {
            Particle::Choice(items)
        } else {
            Particle::Seq(items)
        };
        Ok(repeat(inner, min, max))
    }

    /// One member of a group: a local element, a nested group, or a wildcard (refused).
    fn element_particle(
        &mut self,
        owner: &TypeIdent,
        el: &ElementMeta,
        site: &Site,
        tname: &str,
    ) -> Result<Particle, CompileError> {
        match &el.variant {
            ElementMetaVariant::Type {
                type_,
                mode: ElementMode::Group,
            } => self.group_particle(owner, type_, el.min_occurs, el.max_occurs, site, tname),
            ElementMetaVariant::Type {
                type_,
                mode: ElementMode::Element,
            } => {
                if el.nillable {
                    return Err(self.err(
                        format!("element {}", el.ident.name.as_str()),
                        "nillable is not supported",
                    ));
                }
                let name = el.ident.name.as_str().to_owned();
                let mut child_site = site.clone();
                child_site.path.push(name.clone());
                let elem = self.declare_element(
                    Some(owner),
                    &name,
                    type_,
                    el.min_occurs >= 1,
                    child_site,
                )?;
                Ok(repeat(
                    Particle::Elem { name, elem },
                    el.min_occurs,
                    el.max_occurs,
                ))
            }
            ElementMetaVariant::Any { .. } => Err(self.err(
                format!("xs:any in {tname}"),
                "wildcards cannot be expressed",
            )),
            ElementMetaVariant::Text => Err(self.err(
                format!("content of {tname}"),
                "mixed content is not supported",
            )),
        }
    }

    /// A simple type with all facets of its base chain; cached per type.
    fn simple_type(&mut self, ident: &TypeIdent, elem: &str) -> Result<u16, CompileError> {
        if let Some(&id) = self.simple_index.get(ident) {
            return Ok(id);
        }
        let name = if ident.type_ == IdentType::ElementType || !ident.name.is_named() {
            elem.to_owned()
        } else {
            ident.name.as_str().to_owned()
        };
        let facets = self.fold_facets(ident, elem, 0)?;
        if facets.base64 && (facets.min_length.is_some() || facets.max_length.is_some()) {
            return Err(self.err(
                format!("simpleType {name}"),
                "length facets on xs:base64Binary count octets; not supported",
            ));
        }
        for (facet, v) in [
            ("totalDigits", facets.total_digits),
            ("fractionDigits", facets.fraction_digits),
        ] {
            if v.is_some_and(|v| v > usize::from(u8::MAX)) {
                return Err(self.err(
                    format!("simpleType {name}"),
                    format!("{facet} larger than 255"),
                ));
            }
        }
        for (facet, v) in [
            ("minLength", facets.min_length),
            ("maxLength", facets.max_length),
        ] {
            if v.is_some_and(|v| u32::try_from(v).is_err()) {
                return Err(self.err(format!("simpleType {name}"), format!("{facet} too large")));
            }
        }
        let id = u16::try_from(self.simples.len())
            .map_err(|_| self.err("simple types", "more than 65535"))?;
        self.simples.push(Simple { name, facets });
        self.simple_index.insert(ident.clone(), id);
        Ok(id)
    }

    /// Walks the base chain down to the built-in and applies each step's facets on the way up.
    fn fold_facets(
        &mut self,
        ident: &TypeIdent,
        elem: &str,
        depth: usize,
    ) -> Result<Facets, CompileError> {
        if depth > 64 {
            return Err(self.err(
                format!("element {elem}"),
                "simple type derivation chain too long",
            ));
        }
        let (ident, variant) = self.resolve(ident, elem)?;
        let label = type_label(&ident, elem);
        match &variant {
            MetaTypeVariant::Custom(c) => {
                let name = c.name.strip_prefix("xs:").unwrap_or(&c.name);
                builtin_facets(name).ok_or_else(|| {
                    self.err(
                        format!("type xs:{name} (element {elem})"),
                        "built-in type not supported by the tables",
                    )
                })
            }
            MetaTypeVariant::SimpleType(sm) => {
                if sm.is_list {
                    return Err(self.err(format!("simpleType {label}"), "xs:list is not supported"));
                }
                let mut f = self.fold_facets(&sm.base, elem, depth + 1)?;
                f.restrict(&sm.constrains);
                Ok(f)
            }
            MetaTypeVariant::Enumeration(em) => {
                let base = em.base.as_ident().ok_or_else(|| {
                    self.err(
                        format!("simpleType {label}"),
                        "enumeration without a base type",
                    )
                })?;
                let mut f = self.fold_facets(base, elem, depth + 1)?;
                f.restrict(&em.constrains);
                f.enumeration = em
                    .variants
                    .iter()
                    .map(|v| v.ident.name.as_str().to_owned())
                    .collect();
                Ok(f)
            }
            MetaTypeVariant::Union(um) => {
                let mut members = Vec::new();
                for m in um.types.iter() {
                    members.push(self.simple_type(&m.type_, elem)?);
                }
                let mut f = Facets::new(Prim::Union(members), XsdWhiteSpace::Collapse);
                f.restrict(&um.constrains);
                Ok(f)
            }
            other => Err(self.err(
                format!("type {label} (element {elem})"),
                format!("{} is not a simple type", variant_name(other)),
            )),
        }
    }

    /// Maps each raw `xs:unique` to the declarations of the element it is declared on, and
    /// checks that its selector and field lead somewhere.
    fn resolve_uniques(&self, raw: &[RawUnique]) -> Result<Vec<ResolvedUnique>, CompileError> {
        let mut out = Vec::new();
        for u in raw {
            let scopes: Vec<u16> = self
                .elem_sites
                .iter()
                .enumerate()
                .filter(|(_, s)| **s == u.site)
                .filter_map(|(i, _)| u16::try_from(i).ok())
                .collect();
            let construct = format!("xs:unique {}", u.name);
            if scopes.is_empty() {
                return Err(unsupported(
                    &u.file,
                    construct,
                    "declared on an element the root does not reach",
                ));
            }
            for scope in scopes {
                let selected = self.walk_path(scope, &u.selector).ok_or_else(|| {
                    unsupported(
                        &u.file,
                        construct.clone(),
                        format!("selector {} matches no element", u.selector.join("/")),
                    )
                })?;
                let field = self.walk_path(selected, &u.field).ok_or_else(|| {
                    unsupported(
                        &u.file,
                        construct.clone(),
                        format!("field {} matches no element", u.field.join("/")),
                    )
                })?;
                if !matches!(self.elements[usize::from(field)].2, ElemContent::Simple(_)) {
                    return Err(unsupported(
                        &u.file,
                        construct.clone(),
                        "the field is not an element with simple content",
                    ));
                }
                out.push(ResolvedUnique {
                    name: u.name.clone(),
                    scope,
                    selector: u.selector.clone(),
                    field: u.field.clone(),
                    is_key: u.is_key,
                });
            }
        }
        Ok(out)
    }

    /// The declaration reached from `from` by a path of child names, if any.
    fn walk_path(&self, from: u16, path: &[String]) -> Option<u16> {
        let mut at = from;
        for step in path {
            let ElemContent::Complex(m) = self.elements.get(usize::from(at))?.2 else {
                return None;
            };
            let model = self.models.get(usize::from(m))?.as_ref()?;
            at = model
                .states
                .iter()
                .flat_map(|(_, t)| t.iter())
                .find(|(n, _, _)| n == step)
                .map(|(_, e, _)| *e)?;
        }
        Some(at)
    }

    // -----------------------------------------------------------------------------------------
    // Emission
    // -----------------------------------------------------------------------------------------

    fn emit(&self, ident: &str, name: &str, uniques: &[ResolvedUnique]) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "pub static {ident}: Schema = Schema {{");
        let _ = writeln!(s, "    name: {name:?},");
        let _ = writeln!(s, "    root: {},", self.root);
        s.push_str("    elements: &[\n");
        for (n, mandatory, content) in &self.elements {
            let c = match content {
                ElemContent::Simple(i) => format!("Content::Simple({i})"),
                ElemContent::Complex(i) => format!("Content::Complex({i})"),
                ElemContent::Empty | ElemContent::Pending => "Content::Empty".to_owned(),
            };
            let _ = writeln!(
                s,
                "        ElementDecl {{ name: {n:?}, mandatory: {mandatory}, content: {c} }},"
            );
        }
        s.push_str("    ],\n    models: &[\n");
        for model in self.models.iter().flatten() {
            let _ = writeln!(
                s,
                "        ContentModel {{ start: {}, states: &[",
                model.start
            );
            for (accepting, transitions) in &model.states {
                let t: Vec<String> = transitions
                    .iter()
                    .map(|(n, e, to)| format!("({n:?}, {e}, {to})"))
                    .collect();
                let _ = writeln!(
                    s,
                    "            ModelState {{ accepting: {accepting}, transitions: &[{}] }},",
                    t.join(", ")
                );
            }
            s.push_str("        ] },\n");
        }
        s.push_str("    ],\n    simple_types: &[\n");
        for st in &self.simples {
            emit_simple(&mut s, st);
        }
        s.push_str("    ],\n    uniques: &[\n");
        for ResolvedUnique {
            name: n,
            scope,
            selector: sel,
            field,
            is_key,
        } in uniques
        {
            let _ = writeln!(
                s,
                "        Unique {{ name: {n:?}, scope: {scope}, selector: &{sel:?}, field: &{field:?}, is_key: {is_key} }},"
            );
        }
        s.push_str("    ],\n};\n");
        s
    }
}

fn emit_simple(s: &mut String, st: &Simple) {
    let f = &st.facets;
    let prim = match &f.prim {
        Prim::String => "Primitive::String".to_owned(),
        Prim::Integer => "Primitive::Integer".to_owned(),
        Prim::Decimal => "Primitive::Decimal".to_owned(),
        Prim::Date => "Primitive::Date".to_owned(),
        Prim::DateTime => "Primitive::DateTime".to_owned(),
        Prim::Boolean => "Primitive::Boolean".to_owned(),
        Prim::Union(m) => format!("Primitive::Union(&{m:?})"),
    };
    let ws = match f.white_space {
        XsdWhiteSpace::Preserve => "WhiteSpace::Preserve",
        XsdWhiteSpace::Replace => "WhiteSpace::Replace",
        XsdWhiteSpace::Collapse => "WhiteSpace::Collapse",
    };
    let num = |v: Option<usize>| v.map_or_else(|| "None".to_owned(), |v| format!("Some({v})"));
    let text = |v: &Option<String>| {
        v.as_ref()
            .map_or_else(|| "None".to_owned(), |v| format!("Some({v:?})"))
    };
    // `length` is not separate in xsd-parser's model (it sets minLength = maxLength); equal
    // bounds are written as `length`, which means the same.
    let (length, min_length, max_length) = match (f.min_length, f.max_length) {
        (Some(a), Some(b)) if a == b => (Some(a), None, None),
        (a, b) => (None, a, b),
    };
    let _ = writeln!(
        s,
        "        SimpleType {{ name: {:?}, primitive: {prim}, white_space: {ws}, length: {}, min_length: {}, max_length: {}, total_digits: {}, fraction_digits: {}, min_inclusive: {}, max_inclusive: {}, min_exclusive: {}, max_exclusive: {}, patterns: &{:?}, enumeration: &{:?} }},",
        st.name,
        num(length),
        num(min_length),
        num(max_length),
        num(f.total_digits),
        num(f.fraction_digits),
        text(&f.min_inclusive),
        text(&f.max_inclusive),
        text(&f.min_exclusive),
        text(&f.max_exclusive),
        f.patterns,
        f.enumeration,
    );
}

fn type_label(ident: &TypeIdent, elem: &str) -> String {
    if ident.type_ == IdentType::ElementType || !ident.name.is_named() {
        format!("(anonymous type of {elem})")
    } else {
        ident.name.as_str().to_owned()
    }
}

fn variant_name(v: &MetaTypeVariant) -> &'static str {
    match v {
        MetaTypeVariant::Union(_) => "Union",
        MetaTypeVariant::BuildIn(_) => "BuildIn",
        MetaTypeVariant::Custom(_) => "Custom",
        MetaTypeVariant::Reference(_) => "Reference",
        MetaTypeVariant::Enumeration(_) => "Enumeration",
        MetaTypeVariant::Dynamic(_) => "Dynamic",
        MetaTypeVariant::All(_) => "All",
        MetaTypeVariant::Choice(_) => "Choice",
        MetaTypeVariant::Sequence(_) => "Sequence",
        MetaTypeVariant::ComplexType(_) => "ComplexType",
        MetaTypeVariant::SimpleType(_) => "SimpleType",
    }
}

fn repeat(inner: Particle, min: usize, max: MaxOccurs) -> Particle {
    let max = match max {
        MaxOccurs::Unbounded => None,
        MaxOccurs::Bounded(n) => Some(n),
    };
    if min == 1 && max == Some(1) {
        inner
    } else {
        Particle::Repeat {
            inner: Box::new(inner),
            min,
            max,
        }
    }
}

// =============================================================================================
// Glushkov automaton
// =============================================================================================

/// A regular expression over positions (each position one occurrence of an element).
enum Re {
    Empty,
    Pos(usize),
    Seq(Vec<Re>),
    Alt(Vec<Re>),
    Opt(Box<Re>),
    Star(Box<Re>),
    Plus(Box<Re>),
}

/// Linearises a particle: every element occurrence, including each unrolled copy of a bounded
/// repetition, gets its own position.
fn linearise(p: &Particle, positions: &mut Vec<(String, u16)>) -> Result<Re, String> {
    Ok(match p {
        Particle::Elem { name, elem } => {
            if positions.len() >= MAX_POSITIONS {
                return Err(format!("more than {MAX_POSITIONS} positions"));
            }
            positions.push((name.clone(), *elem));
            Re::Pos(positions.len() - 1)
        }
        Particle::Seq(items) => Re::Seq(
            items
                .iter()
                .map(|i| linearise(i, positions))
                .collect::<Result<_, _>>()?,
        ),
        Particle::Choice(items) => Re::Alt(
            items
                .iter()
                .map(|i| linearise(i, positions))
                .collect::<Result<_, _>>()?,
        ),
        Particle::Repeat { inner, min, max } => {
            if let Some(max) = max {
                if *max > MAX_UNROLL || *min > MAX_UNROLL {
                    return Err(format!(
                        "occurrence bound {max} is larger than {MAX_UNROLL} (too many states to unroll)"
                    ));
                }
                if min > max {
                    return Err(format!("minOccurs {min} > maxOccurs {max}"));
                }
            } else if *min > MAX_UNROLL {
                return Err(format!("minOccurs {min} is larger than {MAX_UNROLL}"));
            }
            let mut seq = Vec::new();
            match max {
                None if *min == 0 => seq.push(Re::Star(Box::new(linearise(inner, positions)?))),
                None => {
                    for _ in 1..*min {
                        seq.push(linearise(inner, positions)?);
                    }
                    seq.push(Re::Plus(Box::new(linearise(inner, positions)?)));
                }
                Some(max) => {
                    for _ in 0..*min {
                        seq.push(linearise(inner, positions)?);
                    }
                    // The optional copies nest: x{0,2} = (x x?)?
                    let mut tail = Re::Empty;
                    for _ in *min..*max {
                        let copy = linearise(inner, positions)?;
                        tail = Re::Opt(Box::new(Re::Seq(vec![copy, tail])));
                    }
                    seq.push(tail);
                }
            }
            Re::Seq(seq)
        }
    })
}

/// nullable, first, last of a sub-expression; follow sets filled in on the way.
fn analyse(re: &Re, follow: &mut [BTreeSet<usize>]) -> (bool, BTreeSet<usize>, BTreeSet<usize>) {
    match re {
        Re::Empty => (true, BTreeSet::new(), BTreeSet::new()),
        Re::Pos(p) => (false, BTreeSet::from([*p]), BTreeSet::from([*p])),
        Re::Seq(items) => {
            let (mut nullable, mut first, mut last): (bool, BTreeSet<usize>, BTreeSet<usize>) =
                (true, BTreeSet::new(), BTreeSet::new());
            for item in items {
                let (n, f, l) = analyse(item, follow);
                for p in &last {
                    follow[*p].extend(f.iter().copied());
                }
                if nullable {
                    first.extend(f.iter().copied());
                }
                if n {
                    last.extend(l);
                } else {
                    last = l;
                }
                nullable &= n;
            }
            (nullable, first, last)
        }
        Re::Alt(items) => {
            let (mut nullable, mut first, mut last) =
                (items.is_empty(), BTreeSet::new(), BTreeSet::new());
            for item in items {
                let (n, f, l) = analyse(item, follow);
                nullable |= n;
                first.extend(f);
                last.extend(l);
            }
            (nullable, first, last)
        }
        Re::Opt(inner) => {
            let (_, f, l) = analyse(inner, follow);
            (true, f, l)
        }
        Re::Star(inner) | Re::Plus(inner) => {
            let (n, f, l) = analyse(inner, follow);
            for p in &l {
                follow[*p].extend(f.iter().copied());
            }
            (n || matches!(re, Re::Star(_)), f, l)
        }
    }
}

/// The Glushkov automaton of a particle: state 0 is the start, state `p + 1` "just read
/// position p". Refuses a non-deterministic model (two positions of one name reachable from
/// the same state: XSD's Unique Particle Attribution).
fn glushkov(p: &Particle) -> Result<Model, String> {
    let mut positions = Vec::new();
    let re = linearise(p, &mut positions)?;
    let mut follow = vec![BTreeSet::new(); positions.len()];
    let (nullable, first, last) = analyse(&re, &mut follow);
    let to_state = |p: usize| u16::try_from(p + 1).map_err(|_| "too many states".to_owned());
    let transitions = |set: &BTreeSet<usize>| -> Result<Vec<Transition>, String> {
        let mut out: Vec<Transition> = Vec::new();
        for &q in set {
            let (name, elem) = &positions[q];
            if out.iter().any(|(n, _, _)| n == name) {
                return Err(format!(
                    "not deterministic: two particles for element {name} compete (Unique Particle Attribution)"
                ));
            }
            out.push((name.clone(), *elem, to_state(q)?));
        }
        Ok(out)
    };
    let mut states = vec![(nullable, transitions(&first)?)];
    for (q, f) in follow.iter().enumerate() {
        states.push((last.contains(&q), transitions(f)?));
    }
    Ok(Model { start: 0, states })
}
