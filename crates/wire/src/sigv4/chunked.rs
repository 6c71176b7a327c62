//! aws-chunked bodies (`Content-Encoding: aws-chunked`): the chunk-signature chain and a
//! push-based decoder that S3's PutObject/UploadPart can feed as the body streams in.
//!
//! Framing (AWS S3 "Transferring Payload in Multiple Chunks", "trailing headers"):
//! ```text
//! <hex size>;chunk-signature=<sig>\r\n<data>\r\n      … signed chunks, the last of size 0
//! <hex size>\r\n<data>\r\n                            … unsigned chunks (…-UNSIGNED-PAYLOAD-TRAILER)
//! x-amz-checksum-crc32:<b64>\r\n                       … trailer lines, if any
//! x-amz-trailer-signature:<sig>\r\n                    … signed trailers only
//! \r\n
//! ```
//! Chunk *n*'s signature signs `AWS4-HMAC-SHA256-PAYLOAD\n<date>\n<scope>\n<sig n-1>\n<sha256("")>\n
//! <sha256(data n)>` with the request's signing key, the header signature seeding the chain; the
//! trailer signs `AWS4-HMAC-SHA256-TRAILER\n<date>\n<scope>\n<sig of the 0-chunk>\n<sha256(trailer
//! lines as name:value\n)>`.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::canonical::SigningKey;
use super::error::SigV4Error;

const EMPTY_SHA256_HEX: &[u8] = b"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
/// The largest chunk the decoder buffers; S3 clients send 64 KiB–8 MiB chunks.
pub const MAX_CHUNK_BYTES: usize = 16 * 1024 * 1024;
const MAX_LINE_BYTES: usize = 4096;

/// The running chain of chunk signatures of one request.
#[derive(Debug, Clone)]
pub struct ChunkSignatureChain {
    key: SigningKey,
    amz_date: String,
    scope: String,
    previous: [u8; 32],
}

fn mismatch() -> SigV4Error {
    SigV4Error::SignatureMismatch(Box::default())
}

fn decode_signature(hex_text: &str) -> Option<[u8; 32]> {
    let mut bytes = [0u8; 32];
    (hex_text.len() == 64 && hex::decode_to_slice(hex_text, &mut bytes).is_ok()).then_some(bytes)
}

impl ChunkSignatureChain {
    /// A chain seeded with the request's own (verified) signature.
    pub fn new(key: SigningKey, amz_date: &str, scope: &str, seed_signature: [u8; 32]) -> Self {
        Self {
            key,
            amz_date: amz_date.to_owned(),
            scope: scope.to_owned(),
            previous: seed_signature,
        }
    }

    fn expected(&self, kind: &str, lines: &[&[u8]]) -> [u8; 32] {
        let previous = hex::encode(self.previous);
        let mut pieces: Vec<&[u8]> = vec![
            kind.as_bytes(),
            b"\n",
            self.amz_date.as_bytes(),
            b"\n",
            self.scope.as_bytes(),
            b"\n",
            previous.as_bytes(),
        ];
        for line in lines {
            pieces.push(b"\n");
            pieces.push(line);
        }
        self.key.sign_pieces(&pieces)
    }

    fn chunk_expected(&self, data_sha256: &[u8; 32]) -> [u8; 32] {
        let data_hex = hex::encode(data_sha256);
        self.expected(
            "AWS4-HMAC-SHA256-PAYLOAD",
            &[EMPTY_SHA256_HEX, data_hex.as_bytes()],
        )
    }

    /// Signs the next chunk and advances the chain (what a client does; tests use it).
    pub fn sign_chunk(&mut self, data: &[u8]) -> String {
        let signature = self.chunk_expected(&Sha256::digest(data).into());
        self.previous = signature;
        hex::encode(signature)
    }

    /// Checks the next chunk's signature, given the SHA-256 of its data, and advances the chain.
    pub fn verify_chunk_hash(
        &mut self,
        data_sha256: &[u8; 32],
        signature: &str,
    ) -> Result<(), SigV4Error> {
        let expected = self.chunk_expected(data_sha256);
        let provided = decode_signature(signature).ok_or_else(mismatch)?;
        if !bool::from(expected.ct_eq(&provided)) {
            return Err(mismatch());
        }
        self.previous = expected;
        Ok(())
    }

    /// Checks the next chunk's signature and advances the chain.
    pub fn verify_chunk(&mut self, data: &[u8], signature: &str) -> Result<(), SigV4Error> {
        self.verify_chunk_hash(&Sha256::digest(data).into(), signature)
    }

    /// The trailer signature over `canonical_trailer` (`name:value\n` per trailing header, sorted).
    pub fn sign_trailer(&self, canonical_trailer: &[u8]) -> String {
        let hash = hex::encode(Sha256::digest(canonical_trailer));
        hex::encode(self.expected("AWS4-HMAC-SHA256-TRAILER", &[hash.as_bytes()]))
    }

    /// Checks the trailer signature.
    pub fn verify_trailer(
        &self,
        canonical_trailer: &[u8],
        signature: &str,
    ) -> Result<(), SigV4Error> {
        let hash = hex::encode(Sha256::digest(canonical_trailer));
        let expected = self.expected("AWS4-HMAC-SHA256-TRAILER", &[hash.as_bytes()]);
        let provided = decode_signature(signature).ok_or_else(mismatch)?;
        if bool::from(expected.ct_eq(&provided)) {
            Ok(())
        } else {
            Err(mismatch())
        }
    }
}

/// How the chunks of a body are covered.
#[derive(Debug)]
pub enum ChunkMode {
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]`.
    Signed {
        /// The chain from [`super::Verified::chunk_chain`].
        chain: Box<ChunkSignatureChain>,
        /// Whether a signed trailer follows.
        trailer: bool,
    },
    /// `STREAMING-UNSIGNED-PAYLOAD-TRAILER`: plain chunks and a trailer.
    UnsignedTrailer,
}

#[derive(Debug, PartialEq, Eq)]
enum State {
    Header,
    Data { remaining: usize },
    DataEnd,
    Trailer,
    Done,
}

/// Decodes an aws-chunked body fed in pieces. Data reaches `out` only once its chunk's signature
/// has been checked, so a caller that stops at the first error never stores unsigned bytes.
#[derive(Debug)]
pub struct AwsChunkedDecoder {
    mode: ChunkMode,
    state: State,
    line: Vec<u8>,
    chunk: Vec<u8>,
    chunk_signature: String,
    trailers: Vec<(String, String)>,
    trailer_signature: Option<String>,
    decoded_length: u64,
}

fn malformed(message: &str) -> SigV4Error {
    SigV4Error::MalformedChunk(message.to_owned())
}

impl AwsChunkedDecoder {
    /// A decoder for a body in `mode`.
    pub fn new(mode: ChunkMode) -> Self {
        Self {
            mode,
            state: State::Header,
            line: Vec::new(),
            chunk: Vec::new(),
            chunk_signature: String::new(),
            trailers: Vec::new(),
            trailer_signature: None,
            decoded_length: 0,
        }
    }

    /// Feeds the next piece of the body; verified data is appended to `out`.
    pub fn feed(&mut self, mut input: &[u8], out: &mut Vec<u8>) -> Result<(), SigV4Error> {
        while !input.is_empty() {
            match self.state {
                State::Done => return Err(malformed("Data after the end of an aws-chunked body")),
                State::Data { remaining } => {
                    let take = remaining.min(input.len());
                    self.chunk.extend_from_slice(&input[..take]);
                    input = &input[take..];
                    self.state = if take == remaining {
                        State::DataEnd
                    } else {
                        State::Data {
                            remaining: remaining - take,
                        }
                    };
                }
                State::Header | State::DataEnd | State::Trailer => {
                    let Some(line) = self.take_line(&mut input)? else {
                        return Ok(());
                    };
                    self.on_line(&line, out)?;
                }
            }
        }
        Ok(())
    }

    /// Collects bytes up to `\r\n`; `None` while the line is incomplete.
    fn take_line(&mut self, input: &mut &[u8]) -> Result<Option<Vec<u8>>, SigV4Error> {
        match input.iter().position(|b| *b == b'\n') {
            Some(end) => {
                self.line.extend_from_slice(&input[..end]);
                *input = &input[end + 1..];
                let mut line = std::mem::take(&mut self.line);
                if line.pop() != Some(b'\r') {
                    return Err(malformed("aws-chunked lines must end with CRLF"));
                }
                Ok(Some(line))
            }
            None => {
                self.line.extend_from_slice(input);
                *input = &[];
                if self.line.len() > MAX_LINE_BYTES {
                    return Err(malformed("aws-chunked header line too long"));
                }
                Ok(None)
            }
        }
    }

    fn on_line(&mut self, line: &[u8], out: &mut Vec<u8>) -> Result<(), SigV4Error> {
        match self.state {
            State::DataEnd => {
                if !line.is_empty() {
                    return Err(malformed("Chunk data longer than its declared size"));
                }
                self.finish_chunk(out)?;
                self.state = State::Header;
            }
            State::Header => {
                let text =
                    std::str::from_utf8(line).map_err(|_| malformed("Invalid chunk header"))?;
                let (size, extension) = text.split_once(';').unwrap_or((text, ""));
                let size = usize::from_str_radix(size.trim(), 16)
                    .map_err(|_| malformed("Invalid chunk size"))?;
                if size > MAX_CHUNK_BYTES {
                    return Err(malformed("Chunk too large"));
                }
                self.chunk_signature = extension
                    .strip_prefix("chunk-signature=")
                    .unwrap_or_default()
                    .to_owned();
                if matches!(self.mode, ChunkMode::Signed { .. }) && self.chunk_signature.is_empty()
                {
                    return Err(mismatch());
                }
                if size == 0 {
                    self.finish_chunk(out)?;
                    self.state = State::Trailer;
                } else {
                    self.state = State::Data { remaining: size };
                }
            }
            State::Trailer => {
                if line.is_empty() {
                    self.finish_trailer()?;
                    self.state = State::Done;
                    return Ok(());
                }
                let text = std::str::from_utf8(line).map_err(|_| malformed("Invalid trailer"))?;
                let (name, value) = text
                    .split_once(':')
                    .ok_or_else(|| malformed("Invalid trailer"))?;
                let (name, value) = (name.trim().to_ascii_lowercase(), value.trim().to_owned());
                if name == "x-amz-trailer-signature" {
                    self.trailer_signature = Some(value);
                } else {
                    self.trailers.push((name, value));
                }
            }
            State::Data { .. } | State::Done => unreachable!("lines are read only between chunks"),
        }
        Ok(())
    }

    fn finish_chunk(&mut self, out: &mut Vec<u8>) -> Result<(), SigV4Error> {
        if let ChunkMode::Signed { chain, .. } = &mut self.mode {
            chain.verify_chunk(&self.chunk, &self.chunk_signature)?;
        }
        self.decoded_length += self.chunk.len() as u64;
        out.append(&mut self.chunk);
        Ok(())
    }

    fn finish_trailer(&mut self) -> Result<(), SigV4Error> {
        if let ChunkMode::Signed {
            chain,
            trailer: true,
        } = &self.mode
        {
            let mut sorted = self.trailers.clone();
            sorted.sort();
            let mut canonical = Vec::new();
            for (name, value) in &sorted {
                canonical.extend_from_slice(format!("{name}:{value}\n").as_bytes());
            }
            let signature = self.trailer_signature.as_deref().ok_or_else(mismatch)?;
            chain.verify_trailer(&canonical, signature)?;
        }
        Ok(())
    }

    /// Ends the body: an error if it stopped before the final chunk and trailer; else the trailing
    /// headers (e.g. `x-amz-checksum-crc32`) and the decoded length, which the caller compares with
    /// `x-amz-decoded-content-length`.
    pub fn finish(self) -> Result<(Vec<(String, String)>, u64), SigV4Error> {
        if self.state != State::Done {
            return Err(malformed("The request body terminated unexpectedly"));
        }
        Ok((self.trailers, self.decoded_length))
    }
}

#[cfg(test)]
#[path = "chunked_tests.rs"]
mod tests;
