//! The chunk chain and decoder against AWS's published S3 examples ("Example: PUT Object" in
//! sigv4-streaming and sigv4-streaming-trailers): 66560 bytes of `a` in chunks of 65536 and 1024.

use super::*;

const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const DATE: &str = "20130524T000000Z";
const SCOPE: &str = "20130524/us-east-1/s3/aws4_request";

fn chain(seed: &str) -> Box<ChunkSignatureChain> {
    let key = SigningKey::derive(SECRET, "20130524", "us-east-1", "s3");
    let mut seed_bytes = [0u8; 32];
    hex::decode_to_slice(seed, &mut seed_bytes).unwrap();
    Box::new(ChunkSignatureChain::new(key, DATE, SCOPE, seed_bytes))
}

const SIGNED: [&str; 4] = [
    "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9",
    "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
    "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
    "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9",
];
const TRAILER: [&str; 4] = [
    "106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e",
    "b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2",
    "1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7",
    "2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992",
];
const TRAILER_LINES: &str = "x-amz-checksum-crc32c:sOO8/Q==\r\nx-amz-trailer-signature:d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435\r\n";

fn wire(signatures: &[&str; 4], trailer: &str) -> Vec<u8> {
    format!(
        "10000;chunk-signature={}\r\n{}\r\n400;chunk-signature={}\r\n{}\r\n0;chunk-signature={}\r\n{trailer}\r\n",
        signatures[1],
        "a".repeat(65536),
        signatures[2],
        "a".repeat(1024),
        signatures[3]
    )
    .into_bytes()
}

#[test]
fn the_chain_reproduces_the_documented_signatures() {
    let mut chain = chain(SIGNED[0]);
    assert_eq!(chain.sign_chunk(&[b'a'; 65536]), SIGNED[1]);
    assert_eq!(chain.sign_chunk(&[b'a'; 1024]), SIGNED[2]);
    assert_eq!(chain.sign_chunk(b""), SIGNED[3]);
}

type Decoded = (Vec<u8>, Vec<(String, String)>);

/// Feeds `body` in pieces of `step` bytes, as a network would deliver it.
fn decode(mode: ChunkMode, body: &[u8], step: usize) -> Result<Decoded, SigV4Error> {
    let mut decoder = AwsChunkedDecoder::new(mode);
    let mut out = Vec::new();
    for piece in body.chunks(step) {
        decoder.feed(piece, &mut out)?;
    }
    let (trailers, length) = decoder.finish()?;
    assert_eq!(length as usize, out.len());
    Ok((out, trailers))
}

#[test]
fn signed_bodies_decode_in_any_piece_size() {
    for step in [1, 7, 4096, 1 << 20] {
        let mode = ChunkMode::Signed {
            chain: chain(SIGNED[0]),
            trailer: false,
        };
        let (data, trailers) = decode(mode, &wire(&SIGNED, ""), step).unwrap();
        assert_eq!(data, vec![b'a'; 66560], "step {step}");
        assert!(trailers.is_empty());
    }
}

#[test]
fn signed_trailers_are_checked() {
    let mode = ChunkMode::Signed {
        chain: chain(TRAILER[0]),
        trailer: true,
    };
    let (data, trailers) = decode(mode, &wire(&TRAILER, TRAILER_LINES), 1000).unwrap();
    assert_eq!(data.len(), 66560);
    assert_eq!(
        trailers,
        vec![("x-amz-checksum-crc32c".to_owned(), "sOO8/Q==".to_owned())]
    );

    let forged = TRAILER_LINES.replace("sOO8/Q==", "AAAAAA==");
    let mode = ChunkMode::Signed {
        chain: chain(TRAILER[0]),
        trailer: true,
    };
    assert!(matches!(
        decode(mode, &wire(&TRAILER, &forged), 1000),
        Err(SigV4Error::SignatureMismatch(_))
    ));
}

#[test]
fn tampered_reordered_or_truncated_bodies_are_refused() {
    let mut tampered = wire(&SIGNED, "");
    let at = tampered.iter().position(|b| *b == b'a').unwrap();
    tampered[at] = b'b';
    let mode = ChunkMode::Signed {
        chain: chain(SIGNED[0]),
        trailer: false,
    };
    let mut decoder = AwsChunkedDecoder::new(mode);
    let mut out = Vec::new();
    assert!(decoder.feed(&tampered, &mut out).is_err());
    assert!(out.is_empty(), "nothing unverified reaches the caller");

    // The chunks swapped: each signature is right for its data but not for its place in the chain.
    let swapped = format!(
        "400;chunk-signature={}\r\n{}\r\n",
        SIGNED[2],
        "a".repeat(1024)
    );
    let mode = ChunkMode::Signed {
        chain: chain(SIGNED[0]),
        trailer: false,
    };
    assert!(decode(mode, swapped.as_bytes(), 100).is_err());

    let full = wire(&SIGNED, "");
    let mode = ChunkMode::Signed {
        chain: chain(SIGNED[0]),
        trailer: false,
    };
    assert!(matches!(
        decode(mode, &full[..full.len() - 40], 100),
        Err(SigV4Error::MalformedChunk(_))
    ));
}

#[test]
fn unsigned_trailer_bodies_as_boto3_sends_them() {
    // Captured from boto3 PutObject over https (spec/sigv4.md §8).
    let body = b"5\r\nhello\r\n0\r\nx-amz-checksum-crc32:NhCmhg==\r\n\r\n";
    let (data, trailers) = decode(ChunkMode::UnsignedTrailer, body, 3).unwrap();
    assert_eq!(data, b"hello");
    assert_eq!(trailers[0].1, "NhCmhg==");
}
