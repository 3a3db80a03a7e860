//! Paging of list endpoints: `?page=1&per_page=50` in, `{"items", "page", "per_page",
//! "total"}` out. Pages are numbered from 1; `per_page` is at most [`MAX_PER_PAGE`].

use serde::{Deserialize, Serialize};

use super::error::ApiError;

/// Largest page a client may ask for.
pub const MAX_PER_PAGE: u32 = 1000;
/// Page size when the client names none.
pub const DEFAULT_PER_PAGE: u32 = 50;

/// The paging part of a query string.
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct PageQuery {
    /// 1-based page number.
    pub page: Option<u32>,
    /// Items per page.
    pub per_page: Option<u32>,
}

/// A checked page request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    /// 1-based page number.
    pub page: u32,
    /// Items per page.
    pub per_page: u32,
}

impl PageRequest {
    /// Rows to skip.
    #[must_use]
    pub fn offset(self) -> i64 {
        i64::from(self.page - 1) * i64::from(self.per_page)
    }

    /// Rows to return.
    #[must_use]
    pub fn limit(self) -> i64 {
        i64::from(self.per_page)
    }
}

impl PageQuery {
    /// Checks the numbers: page ≥ 1, 1 ≤ `per_page` ≤ [`MAX_PER_PAGE`].
    pub fn checked(self) -> Result<PageRequest, ApiError> {
        let page = self.page.unwrap_or(1);
        let per_page = self.per_page.unwrap_or(DEFAULT_PER_PAGE);
        if page == 0 {
            return Err(ApiError::BadRequest("page numbers start at 1".into()));
        }
        if per_page == 0 || per_page > MAX_PER_PAGE {
            return Err(ApiError::BadRequest(format!(
                "per_page must be between 1 and {MAX_PER_PAGE}"
            )));
        }
        Ok(PageRequest { page, per_page })
    }
}

/// One page of a list.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Page<T> {
    /// The items of this page.
    pub items: Vec<T>,
    /// 1-based page number.
    pub page: u32,
    /// Items per page asked for.
    pub per_page: u32,
    /// Items in the whole list.
    pub total: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds() {
        let ok = PageQuery {
            page: Some(3),
            per_page: Some(20),
        }
        .checked()
        .unwrap();
        assert_eq!((ok.offset(), ok.limit()), (40, 20));
        let default = PageQuery {
            page: None,
            per_page: None,
        }
        .checked()
        .unwrap();
        assert_eq!(
            default,
            PageRequest {
                page: 1,
                per_page: DEFAULT_PER_PAGE
            }
        );
        for (page, per_page) in [
            (Some(0), None),
            (None, Some(0)),
            (None, Some(MAX_PER_PAGE + 1)),
        ] {
            assert!(PageQuery { page, per_page }.checked().is_err());
        }
    }
}
