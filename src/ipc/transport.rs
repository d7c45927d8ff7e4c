//! Length-delimited JSON frames over any async byte stream.
//!
//! Frames are wiped after (de)serialisation because a `VarSet` frame holds a value.

use bytes::BytesMut;
use futures::{SinkExt, StreamExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::codec::{Decoder, Encoder, Framed, LengthDelimitedCodec};
use zeroize::{Zeroize, Zeroizing};

/// Big enough for `var list` of tens of thousands of names; small enough to bound memory.
pub const MAX_FRAME: usize = 32 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("connection to the openv agent failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("the openv agent closed the connection")]
    Closed,
    #[error("malformed message: {0}")]
    Decode(String),
}

/// `C` decides how frames are cut: the client's plain length-delimited codec, or the
/// agent's [`LimitedCodec`](super::limits::LimitedCodec).
#[derive(Debug)]
pub struct Channel<T, C = LengthDelimitedCodec> {
    framed: Framed<T, C>,
}

impl<T: AsyncRead + AsyncWrite + Unpin> Channel<T> {
    pub fn new(io: T) -> Self {
        let codec = LengthDelimitedCodec::builder()
            .max_frame_length(MAX_FRAME)
            .new_codec();
        Self::with_codec(io, codec)
    }
}

impl<T, C> Channel<T, C>
where
    T: AsyncRead + AsyncWrite + Unpin,
    C: Decoder<Item = BytesMut, Error = std::io::Error>
        + Encoder<bytes::Bytes, Error = std::io::Error>,
{
    pub fn with_codec(io: T, codec: C) -> Self {
        Self {
            framed: Framed::new(io, codec),
        }
    }

    pub async fn send<M: Serialize>(&mut self, msg: &M) -> Result<(), TransportError> {
        self.framed.send(Self::frame(msg)?).await?;
        Ok(())
    }

    /// Queues `msg` without flushing: the next [`send`](Self::send) writes both at once.
    pub async fn feed<M: Serialize>(&mut self, msg: &M) -> Result<(), TransportError> {
        self.framed.feed(Self::frame(msg)?).await?;
        Ok(())
    }

    fn frame<M: Serialize>(msg: &M) -> Result<bytes::Bytes, TransportError> {
        let bytes = Zeroizing::new(
            serde_json::to_vec(msg).map_err(|e| TransportError::Decode(e.to_string()))?,
        );
        Ok(bytes::Bytes::copy_from_slice(&bytes))
    }

    /// `Ok(None)` on a clean end of stream.
    pub async fn recv<M: DeserializeOwned>(&mut self) -> Result<Option<M>, TransportError> {
        let Some(frame) = self.framed.next().await else {
            return Ok(None);
        };
        let mut frame = frame?;
        let parsed = serde_json::from_slice(&frame);
        frame.as_mut().zeroize();
        // serde_json's message names a position, never the input text.
        parsed
            .map(Some)
            .map_err(|e| TransportError::Decode(e.to_string()))
    }

    pub async fn request<Q: Serialize, R: DeserializeOwned>(
        &mut self,
        msg: &Q,
    ) -> Result<R, TransportError> {
        self.send(msg).await?;
        self.recv().await?.ok_or(TransportError::Closed)
    }
}
