//! The packet side of the registers: reading the parts entries share (addresses, licences,
//! inclusion periods, notices) from packet [`Node`]s into their unchecked forms, and writing
//! records back as nodes for export.
//!
//! Element names follow formats.md 5.1–5.4 and are matched case-insensitively by the packet
//! reader. Dates are written `DD.MM.YYYY`, as in classifier packets. Used by the register
//! modules' `from_node` / `to_node`.

use chrono::NaiveDate;

use super::check::RawText;
use super::model::{
    Address, Contacts, Inclusion, Licence, Notice, PersonParts, RawAddress, RawContacts,
    RawInclusion, RawLicence, RawNotice, RawPersonParts,
};
use crate::domain::PersonName;
use crate::nsi::packet::Node;

/// The text of child `name`, as raw input (`None` when the element is absent).
#[must_use]
pub fn text(node: &Node, name: &str) -> Option<RawText> {
    node.text_of(name).map(RawText::from)
}

/// The address in child `container` with elements `names` (`jurAddress`: `index_j`, `addr_j`).
#[must_use]
pub fn raw_address(node: &Node, container: &str, names: [&str; 2]) -> RawAddress {
    node.child(container)
        .map(|a| RawAddress {
            postal_index: text(a, names[0]),
            address: text(a, names[1]),
        })
        .unwrap_or_default()
}

/// The head's names from three sibling elements (`fam_ruk`, `im_ruk`, `ot_ruk`).
#[must_use]
pub fn raw_person(node: &Node, names: [&str; 3]) -> RawPersonParts {
    RawPersonParts {
        surname: text(node, names[0]),
        first_name: text(node, names[1]),
        patronymic: text(node, names[2]),
    }
}

/// `phone`, `fax`, `e_mail`, `www`.
#[must_use]
pub fn raw_contacts(node: &Node) -> RawContacts {
    RawContacts {
        phone: text(node, "phone"),
        fax: text(node, "fax"),
        email: text(node, "e_mail"),
        www: text(node, "www"),
    }
}

/// Every `licenziy`-style child (`n_doc`, `d_start`, `data_e`).
#[must_use]
pub fn raw_licences(node: &Node, element: &str) -> Vec<RawLicence> {
    node.children_named(element)
        .map(|l| RawLicence {
            number: text(l, "n_doc"),
            start: text(l, "d_start"),
            end: text(l, "data_e"),
        })
        .collect()
}

/// Every `insInclude` / `medInclude` child.
#[must_use]
pub fn raw_inclusions(node: &Node, element: &str) -> Vec<RawInclusion> {
    node.children_named(element)
        .map(|i| RawInclusion {
            d_begin: text(i, "d_begin"),
            d_end: text(i, "d_end"),
            reasons: i
                .children_named("name_e")
                .map(|n| RawText::from(n.text.as_str()))
                .collect(),
            nal_p: text(i, "Nal_p"),
        })
        .collect()
}

/// Every `insAdvice` / `medAdvice` child.
#[must_use]
pub fn raw_notices(node: &Node, element: &str) -> Vec<RawNotice> {
    node.children_named(element)
        .map(|a| RawNotice {
            date: text(a, "DUVED"),
            insured: text(a, "kol_zl"),
            year: text(a, "YEAR_WORK"),
        })
        .collect()
}

/// A date as packets write it.
#[must_use]
pub fn date_text(day: NaiveDate) -> String {
    day.format("%d.%m.%Y").to_string()
}

/// Builds the children of an entry in order, skipping absent values.
#[derive(Debug, Default)]
pub struct Children(Vec<Node>);

impl Children {
    /// An empty list.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `<name>value</name>`.
    pub fn text(&mut self, name: &str, value: &str) -> &mut Self {
        self.0.push(Node::leaf(name, value));
        self
    }

    /// Adds `<name>value</name>` when there is a value.
    pub fn opt(&mut self, name: &str, value: Option<&str>) -> &mut Self {
        if let Some(v) = value {
            self.text(name, v);
        }
        self
    }

    /// Adds a date element when there is a date.
    pub fn date(&mut self, name: &str, value: Option<NaiveDate>) -> &mut Self {
        self.opt(name, value.map(date_text).as_deref())
    }

    /// Adds a number element when there is a number.
    pub fn number(&mut self, name: &str, value: Option<u64>) -> &mut Self {
        self.opt(name, value.map(|v| v.to_string()).as_deref())
    }

    /// Adds a finished node.
    pub fn node(&mut self, node: Node) -> &mut Self {
        self.0.push(node);
        self
    }

    /// Adds the head's names as three elements.
    pub fn person(&mut self, person: &PersonParts, names: [&str; 3]) -> &mut Self {
        self.opt(names[0], person.surname.as_ref().map(PersonName::as_str))
            .opt(names[1], person.first_name.as_ref().map(PersonName::as_str))
            .opt(names[2], person.patronymic.as_ref().map(PersonName::as_str))
    }

    /// Adds `phone`, `fax`, `e_mail`, `www`.
    pub fn contacts(&mut self, contacts: &Contacts) -> &mut Self {
        self.opt("phone", contacts.phone.as_deref())
            .opt("fax", contacts.fax.as_deref())
            .opt("e_mail", contacts.email.as_deref())
            .opt("www", contacts.www.as_deref())
    }

    /// Adds an address container unless the address is empty.
    pub fn address(&mut self, container: &str, address: &Address, names: [&str; 2]) -> &mut Self {
        if !address.is_empty() {
            let mut c = Children::new();
            c.opt(names[0], address.postal_index.as_deref())
                .opt(names[1], address.address.as_deref());
            self.node(c.into_node(container));
        }
        self
    }

    /// Adds one `licenziy`-style element per licence.
    pub fn licences(&mut self, element: &str, licences: &[Licence]) -> &mut Self {
        for l in licences {
            let mut c = Children::new();
            c.text("n_doc", &l.number)
                .date("d_start", l.start)
                .date("data_e", l.end);
            self.node(c.into_node(element));
        }
        self
    }

    /// Adds one `insInclude`-style element per inclusion period.
    pub fn inclusions(&mut self, element: &str, inclusions: &[Inclusion]) -> &mut Self {
        for i in inclusions {
            let mut c = Children::new();
            c.date("d_begin", Some(i.d_begin)).date("d_end", i.d_end);
            for reason in &i.reasons {
                c.text("name_e", reason);
            }
            c.opt("Nal_p", i.nal_p.as_deref());
            self.node(c.into_node(element));
        }
        self
    }

    /// Adds one `insAdvice`-style element per notice.
    pub fn notices(&mut self, element: &str, notices: &[Notice]) -> &mut Self {
        for n in notices {
            let mut c = Children::new();
            c.date("DUVED", Some(n.date))
                .number("kol_zl", n.insured)
                .number("YEAR_WORK", n.year);
            self.node(c.into_node(element));
        }
        self
    }

    /// The element `name` holding these children.
    #[must_use]
    pub fn into_node(self, name: &str) -> Node {
        Node::branch(name, self.0)
    }
}
