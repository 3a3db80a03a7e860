//! The one `unsafe` exception of the crate (docs/design §7, §8): the certificates OpenSSL
//! matched to the signers of a CMS structure, through `CMS_get0_signers`, which the `openssl`
//! crate does not wrap. Called by [`super::verify`] after `CMS_verify`, which sets them.

use foreign_types::ForeignTypeRef;
use openssl::cms::CmsContentInfoRef;
use openssl::stack::StackRef;
use openssl::x509::{X509, X509Ref};

#[expect(
    unsafe_code,
    reason = "CMS_get0_signers is not declared by openssl-sys; its C signature is \
              `STACK_OF(X509) *CMS_get0_signers(CMS_ContentInfo *cms)` in every OpenSSL 1.1+"
)]
unsafe extern "C" {
    fn CMS_get0_signers(cms: *mut openssl_sys::CMS_ContentInfo) -> *mut openssl_sys::stack_st_X509;
}

/// The certificates of the signers, in `SignerInfo` order, as OpenSSL matched them during
/// `CMS_verify` (a signer it did not match is absent). Owned copies (reference counted).
#[expect(
    unsafe_code,
    reason = "the documented exception of docs/design §7: read CMS_get0_signers safely"
)]
pub(crate) fn signer_certificates(cms: &CmsContentInfoRef) -> Vec<X509> {
    // SAFETY: `cms` is a live CMS_ContentInfo borrowed for this call. CMS_get0_signers returns
    // NULL or a new stack whose elements are borrowed from `cms` without a reference of their
    // own ("get0"): each is copied with `to_owned` (X509_up_ref) while `cms` is still borrowed,
    // then only the stack itself is freed (OPENSSL_sk_free, not pop_free), as OpenSSL's own
    // `apps/cms.c` does with sk_X509_free.
    unsafe {
        let stack = CMS_get0_signers(cms.as_ptr());
        if stack.is_null() {
            return Vec::new();
        }
        let certs = StackRef::<X509>::from_ptr(stack)
            .iter()
            .map(X509Ref::to_owned)
            .collect();
        openssl_sys::OPENSSL_sk_free(stack.cast());
        certs
    }
}
