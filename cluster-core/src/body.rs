//! Message bodies: what a call, a send or a handler's response carries.
//!
//! A [`Body`] writes itself into the connection's write buffer when its
//! frame is queued, so a typed value is encoded in place rather than into a
//! buffer of its own that is then copied. Bytes of every usual kind are
//! bodies as they are.

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::Error;

/// A message body, written straight into the frame that carries it.
///
/// Byte containers are bodies (`Bytes`, `Vec<u8>`, `&[u8]`, `&str`,
/// `String`, `[u8; N]`, …); the `cluster` crate's typed clients and
/// servers pass their values as bodies that encode themselves.
///
/// ```
/// use bytes::{BufMut, BytesMut};
/// use cluster_core::{Body, Error};
///
/// /// A counter sent as 8 little-endian bytes, without a buffer of its own.
/// struct Count(u64);
///
/// impl Body for Count {
///     fn write_to(&self, dst: &mut BytesMut) -> Result<(), Error> {
///         dst.put_u64_le(self.0);
///         Ok(())
///     }
///
///     fn exact_len(&self) -> Option<usize> {
///         Some(8)
///     }
/// }
///
/// let mut frame = BytesMut::new();
/// Count(7).write_to(&mut frame)?;
/// assert_eq!(frame, [7, 0, 0, 0, 0, 0, 0, 0][..]);
/// # Ok::<(), Error>(())
/// ```
pub trait Body {
    /// Appends the body to `dst`. On an error, what was appended is cut off
    /// again by the caller, and the frame is not sent.
    ///
    /// It runs while the connection's write queue is locked: it should only
    /// encode, never wait or block.
    fn write_to(&self, dst: &mut BytesMut) -> Result<(), Error>;

    /// The body's length, when known before writing: a frame too large for
    /// the wire is then refused before anything is written, and the buffer
    /// grows once.
    fn exact_len(&self) -> Option<usize> {
        None
    }
}

impl Body for [u8] {
    #[inline]
    fn write_to(&self, dst: &mut BytesMut) -> Result<(), Error> {
        dst.put_slice(self);
        Ok(())
    }

    #[inline]
    fn exact_len(&self) -> Option<usize> {
        Some(self.len())
    }
}

/// Implements [`Body`] for byte containers through their `[u8]`.
macro_rules! bytes_body {
    ($($ty:ty),*) => {$(
        impl Body for $ty {
            #[inline]
            fn write_to(&self, dst: &mut BytesMut) -> Result<(), Error> {
                <[u8] as Body>::write_to(self.as_ref(), dst)
            }

            #[inline]
            fn exact_len(&self) -> Option<usize> {
                Some(<$ty as AsRef<[u8]>>::as_ref(self).len())
            }
        }
    )*};
}

bytes_body!(Bytes, BytesMut, Vec<u8>, Box<[u8]>, str, String);

impl<const N: usize> Body for [u8; N] {
    fn write_to(&self, dst: &mut BytesMut) -> Result<(), Error> {
        <[u8] as Body>::write_to(self, dst)
    }

    fn exact_len(&self) -> Option<usize> {
        Some(N)
    }
}

impl<T: Body + ?Sized> Body for &T {
    fn write_to(&self, dst: &mut BytesMut) -> Result<(), Error> {
        (**self).write_to(dst)
    }

    fn exact_len(&self) -> Option<usize> {
        (**self).exact_len()
    }
}

/// `body` written out into a buffer of its own: for paths that must keep a
/// body past its frame (retries over several peers, for example).
pub fn to_bytes(body: &(impl Body + ?Sized)) -> Result<Bytes, Error> {
    let mut buf = BytesMut::with_capacity(body.exact_len().unwrap_or(0));
    body.write_to(&mut buf)?;
    Ok(buf.freeze())
}

/// `prefix` then `body`: an extension header before a caller's body.
pub(crate) struct Prefixed<'a, B: ?Sized> {
    pub(crate) prefix: &'a [u8],
    pub(crate) body: &'a B,
}

impl<B: Body + ?Sized> Body for Prefixed<'_, B> {
    fn write_to(&self, dst: &mut BytesMut) -> Result<(), Error> {
        dst.put_slice(self.prefix);
        self.body.write_to(dst)
    }

    fn exact_len(&self) -> Option<usize> {
        Some(self.prefix.len() + self.body.exact_len()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_containers_write_themselves_whole() {
        let mut dst = BytesMut::from(&b">"[..]);
        Bytes::from_static(b"ab").write_to(&mut dst).expect("bytes");
        "cd".write_to(&mut dst).expect("str");
        [b'e'; 2].write_to(&mut dst).expect("array");
        Body::write_to(&&vec![b'f'][..], &mut dst).expect("a reference");
        assert_eq!(dst, b">abcdeef"[..]);
        assert_eq!(String::from("xyz").exact_len(), Some(3));
    }

    #[test]
    fn a_prefix_goes_first_and_counts() {
        let body = Prefixed {
            prefix: &[0, 1],
            body: "hi",
        };
        assert_eq!(body.exact_len(), Some(4));
        assert_eq!(to_bytes(&body).expect("body"), b"\0\x01hi"[..]);
    }
}
