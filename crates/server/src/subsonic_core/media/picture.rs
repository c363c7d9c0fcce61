//! Cover pictures: what type a picture is (from its bytes), the folder's cover file beside a
//! song's file, and pictures scaled down for `getCoverArt`'s `size` (JPEG stays JPEG, PNG stays
//! PNG; the aspect is kept and nothing is ever enlarged).
//!
//! JPEG is decoded with zune-jpeg and encoded with jpeg-encoder, PNG both ways with png, and the
//! pixels are resampled with resize's Lanczos-3 filter (premultiplied where there is alpha).

use std::io::Cursor;
use std::path::{Path, PathBuf};

use rgb::FromSlice;

/// The folder's cover file names, in the order they are preferred (any case; `.jpg`, `.jpeg`
/// or `.png`).
pub const COVER_NAMES: &[&str] = &["cover", "folder", "front", "album"];
/// The extensions of a folder's cover file, in the order they are preferred.
pub const COVER_EXTENSIONS: &[&str] = &["jpg", "jpeg", "png"];
/// A folder's cover file larger than this is not read.
pub const MAX_COVER_FILE: u64 = 32 << 20;
/// Pictures with more pixels than this (as their header declares them, read before anything
/// is decoded) are served as they are, never decoded: 4096 x 4096, 48 MB of RGB pixels once
/// decoded, at most one per core at once.
pub const MAX_PIXELS: u64 = 4096 * 4096;
/// The sizes a large picture is first scaled to, once, and kept (as pixels) to be scaled from
/// for every `size` up to it: players ask for many sizes (`size=301`, `302`...), and each is
/// then a small picture's resampling, not the large picture's decoding.
pub const BUCKETS: &[u32] = &[128, 256, 512, 1024, 2048];

/// JPEG quality of scaled-down JPEG pictures.
const JPEG_QUALITY: u8 = 88;

/// The media type of scaled-down JPEG pictures.
pub const JPEG: &str = "image/jpeg";
/// The media type of scaled-down PNG pictures.
pub const PNG: &str = "image/png";

/// The media type of a picture's bytes, `None` when they are no picture songrec knows.
pub fn mime_of(bytes: &[u8]) -> Option<&'static str> {
    const MAGIC: [(&[u8], &str); 4] = [
        (b"\xFF\xD8\xFF", JPEG),
        (b"\x89PNG\r\n\x1a\n", PNG),
        (b"GIF8", "image/gif"),
        (b"BM", "image/bmp"),
    ];
    if bytes.starts_with(b"RIFF") && bytes.get(8..12) == Some(b"WEBP") {
        return Some("image/webp");
    }
    MAGIC
        .iter()
        .find(|(m, _)| bytes.starts_with(m))
        .map(|(_, t)| *t)
}

/// Why a picture could not be scaled.
#[derive(Debug, thiserror::Error)]
pub enum ScaleError {
    #[error("the picture's type cannot be scaled")]
    Unsupported,
    #[error("the picture is too large to decode ({width} x {height})")]
    TooLarge { width: u64, height: u64 },
    #[error("the picture could not be decoded: {0}")]
    Decode(String),
    #[error("the picture could not be encoded: {0}")]
    Encode(String),
}

/// A scaled picture: its bytes and media type.
#[derive(Debug)]
pub struct Scaled {
    pub bytes: Vec<u8>,
    pub mime: &'static str,
}

/// The size of a picture `width` x `height` whose longer side is made `size`, keeping the
/// aspect; `None` when it is no larger than that already (never enlarged).
pub fn fit(width: u32, height: u32, size: u32) -> Option<(u32, u32)> {
    let long = width.max(height);
    if size == 0 || long <= size {
        return None;
    }
    let scale = |side: u32| -> u32 {
        let s = (u64::from(side) * u64::from(size) + u64::from(long) / 2) / u64::from(long);
        u32::try_from(s.max(1)).unwrap_or(size)
    };
    Some((scale(width), scale(height)))
}

/// The picture scaled so that its longer side is `size` pixels (JPEG and PNG); `Ok(None)` when
/// it is no larger than that (served as it is).
pub fn scale(bytes: &[u8], size: u32) -> Result<Option<Scaled>, ScaleError> {
    let (w, h, mime) = dimensions(bytes)?;
    let Some((tw, th)) = fit(w, h, size) else {
        return Ok(None);
    };
    let small = resized(&decode(bytes)?, tw, th)?;
    encode(&small, mime).map(Some)
}

/// [`scale`] through `cache`: the answer for `size` kept by the SHA-256 `hash` of the picture,
/// and the picture first scaled to the next of [`BUCKETS`] (decoded once per bucket), from
/// which every size up to it is made.
pub fn scale_cached(
    bytes: &[u8],
    hash: [u8; 32],
    size: u32,
    cache: &std::sync::Mutex<ScaledCache>,
) -> Result<Option<std::sync::Arc<Scaled>>, ScaleError> {
    use std::sync::Arc;
    let kept = |k: &Key| cache.lock().ok().and_then(|c| c.get(k));
    let keep = |k: Key, v: Kept| {
        if let Ok(mut c) = cache.lock() {
            c.put(k, v);
        }
    };
    let exact = Key::Scaled(hash, size);
    if let Some(Kept::Scaled(s)) = kept(&exact) {
        return Ok(Some(s));
    }
    let (w, h, mime) = dimensions(bytes)?;
    let Some((tw, th)) = fit(w, h, size) else {
        return Ok(None);
    };
    let bucket = BUCKETS
        .iter()
        .find(|b| **b >= size)
        .and_then(|b| fit(w, h, *b).map(|sides| (*b, sides)));
    let base = match bucket {
        Some((b, (bw, bh))) => match kept(&Key::Pixels(hash, b)) {
            Some(Kept::Pixels(p)) => p,
            _ => {
                // The large picture's pixels live only for this statement.
                let p = Arc::new(resized(&decode(bytes)?, bw, bh)?);
                keep(Key::Pixels(hash, b), Kept::Pixels(p.clone()));
                p
            }
        },
        None => Arc::new(decode(bytes)?),
    };
    let out = if (base.width, base.height) == (tw, th) {
        encode(&base, mime)?
    } else {
        encode(&resized(&base, tw, th)?, mime)?
    };
    let out = Arc::new(out);
    keep(exact, Kept::Scaled(out.clone()));
    Ok(Some(out))
}

/// A picture's width, height and type as its header declares them (nothing decoded).
pub fn dimensions(bytes: &[u8]) -> Result<(u32, u32, &'static str), ScaleError> {
    match mime_of(bytes) {
        Some(JPEG) => {
            let mut d = zune_jpeg::JpegDecoder::new(Cursor::new(bytes));
            d.decode_headers()
                .map_err(|e| ScaleError::Decode(e.to_string()))?;
            let info = d
                .info()
                .ok_or_else(|| ScaleError::Decode("no JPEG header".into()))?;
            Ok((info.width.into(), info.height.into(), JPEG))
        }
        Some(PNG) => {
            let reader = png::Decoder::new(Cursor::new(bytes))
                .read_info()
                .map_err(|e| ScaleError::Decode(e.to_string()))?;
            Ok((reader.info().width, reader.info().height, PNG))
        }
        _ => Err(ScaleError::Unsupported),
    }
}

/// Decoded pixels: RGB, or RGBA when `alpha`, 8 bits a channel.
#[derive(Debug)]
pub struct Pixels {
    pub width: u32,
    pub height: u32,
    pub alpha: bool,
    pub data: Vec<u8>,
}

/// The picture's pixels (JPEG or PNG), refused beyond [`MAX_PIXELS`] before decoding.
fn decode(bytes: &[u8]) -> Result<Pixels, ScaleError> {
    let (w, h, mime) = dimensions(bytes)?;
    check_pixels(w.into(), h.into())?;
    if mime == JPEG {
        decode_jpeg(bytes)
    } else {
        decode_png(bytes)
    }
}

fn check_pixels(width: u64, height: u64) -> Result<(), ScaleError> {
    if width.saturating_mul(height) > MAX_PIXELS {
        return Err(ScaleError::TooLarge { width, height });
    }
    Ok(())
}

fn decode_jpeg(bytes: &[u8]) -> Result<Pixels, ScaleError> {
    use zune_jpeg::zune_core::colorspace::ColorSpace;
    use zune_jpeg::zune_core::options::DecoderOptions;

    let decode = |e: zune_jpeg::errors::DecodeErrors| ScaleError::Decode(e.to_string());
    let options = DecoderOptions::default().jpeg_set_out_colorspace(ColorSpace::RGB);
    let mut d = zune_jpeg::JpegDecoder::new_with_options(Cursor::new(bytes), options);
    d.decode_headers().map_err(decode)?;
    let info = d
        .info()
        .ok_or_else(|| ScaleError::Decode("no JPEG header".into()))?;
    let (w, h) = (u32::from(info.width), u32::from(info.height));
    let pixels = d.decode().map_err(decode)?;
    if pixels.len() != w as usize * h as usize * 3 {
        return Err(ScaleError::Decode("unexpected JPEG pixel layout".into()));
    }
    Ok(Pixels {
        width: w,
        height: h,
        alpha: false,
        data: pixels,
    })
}

fn side_u16(side: u32) -> Result<u16, ScaleError> {
    u16::try_from(side).map_err(|_| ScaleError::Encode(format!("a side of {side} pixels")))
}

fn decode_png(bytes: &[u8]) -> Result<Pixels, ScaleError> {
    let decode = |e: png::DecodingError| ScaleError::Decode(e.to_string());
    let limits = png::Limits {
        bytes: usize::try_from(MAX_PIXELS * 4).unwrap_or(usize::MAX),
    };
    let mut dec = png::Decoder::new_with_limits(Cursor::new(bytes), limits);
    dec.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = dec.read_info().map_err(decode)?;
    let (w, h) = (reader.info().width, reader.info().height);
    let len = reader
        .output_buffer_size()
        .ok_or_else(|| ScaleError::TooLarge {
            width: w.into(),
            height: h.into(),
        })?;
    let mut buf = vec![0u8; len];
    let frame = reader.next_frame(&mut buf).map_err(decode)?;
    buf.truncate(frame.buffer_size());
    // 8 bits per channel after the normalisation; grey becomes RGB, grey and alpha RGBA.
    let (pixels, alpha) = match frame.color_type {
        png::ColorType::Rgb => (buf, false),
        png::ColorType::Rgba => (buf, true),
        png::ColorType::Grayscale => (buf.iter().flat_map(|&g| [g, g, g]).collect(), false),
        png::ColorType::GrayscaleAlpha => (
            buf.chunks_exact(2)
                .flat_map(|ga| [ga[0], ga[0], ga[0], ga[1]])
                .collect(),
            true,
        ),
        png::ColorType::Indexed => {
            return Err(ScaleError::Decode("an indexed PNG was not expanded".into()));
        }
    };
    if frame.bit_depth != png::BitDepth::Eight
        || pixels.len() != w as usize * h as usize * (3 + usize::from(alpha))
    {
        return Err(ScaleError::Decode("unexpected PNG pixel layout".into()));
    }
    Ok(Pixels {
        width: w,
        height: h,
        alpha,
        data: pixels,
    })
}

/// `p` resampled to `(tw, th)`.
fn resized(p: &Pixels, tw: u32, th: u32) -> Result<Pixels, ScaleError> {
    Ok(Pixels {
        width: tw,
        height: th,
        alpha: p.alpha,
        data: resample(&p.data, (p.width, p.height), (tw, th), p.alpha)?,
    })
}

/// `p` encoded as `mime` (JPEG at [`JPEG_QUALITY`], or PNG); a JPEG has no alpha.
fn encode(p: &Pixels, mime: &'static str) -> Result<Scaled, ScaleError> {
    let mut bytes = Vec::new();
    if mime == JPEG && !p.alpha {
        let (ew, eh) = (side_u16(p.width)?, side_u16(p.height)?);
        jpeg_encoder::Encoder::new(&mut bytes, JPEG_QUALITY)
            .encode(&p.data, ew, eh, jpeg_encoder::ColorType::Rgb)
            .map_err(|e| ScaleError::Encode(e.to_string()))?;
        return Ok(Scaled { bytes, mime: JPEG });
    }
    let mut enc = png::Encoder::new(&mut bytes, p.width, p.height);
    enc.set_color(if p.alpha {
        png::ColorType::Rgba
    } else {
        png::ColorType::Rgb
    });
    enc.set_depth(png::BitDepth::Eight);
    let encode = |e: png::EncodingError| ScaleError::Encode(e.to_string());
    let mut writer = enc.write_header().map_err(encode)?;
    writer.write_image_data(&p.data).map_err(encode)?;
    writer.finish().map_err(encode)?;
    Ok(Scaled { bytes, mime: PNG })
}

/// The pixels (RGB, or RGBA when `alpha`, resampled premultiplied) at the size `(tw, th)`.
fn resample(
    pixels: &[u8],
    (w, h): (u32, u32),
    (tw, th): (u32, u32),
    alpha: bool,
) -> Result<Vec<u8>, ScaleError> {
    let (w, h, tw, th) = (w as usize, h as usize, tw as usize, th as usize);
    let resizing = |e: resize::Error| ScaleError::Encode(e.to_string());
    let mut out = vec![0u8; tw * th * (3 + usize::from(alpha))];
    if alpha {
        resize::new(w, h, tw, th, resize::Pixel::RGBA8P, resize::Type::Lanczos3)
            .map_err(resizing)?
            .resize(pixels.as_rgba(), out.as_rgba_mut())
            .map_err(resizing)?;
    } else {
        resize::new(w, h, tw, th, resize::Pixel::RGB8, resize::Type::Lanczos3)
            .map_err(resizing)?
            .resize(pixels.as_rgb(), out.as_rgb_mut())
            .map_err(resizing)?;
    }
    Ok(out)
}

/// What [`ScaledCache`] keeps a picture under: the SHA-256 of the picture it was made from,
/// and the size of an answer or the bucket of pixels kept to scale from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Key {
    Scaled([u8; 32], u32),
    Pixels([u8; 32], u32),
}

/// What [`ScaledCache`] keeps: an answer, or a bucket's pixels.
#[derive(Clone, Debug)]
pub enum Kept {
    Scaled(std::sync::Arc<Scaled>),
    Pixels(std::sync::Arc<Pixels>),
}

impl Kept {
    fn len(&self) -> usize {
        match self {
            Self::Scaled(s) => s.bytes.len(),
            Self::Pixels(p) => p.data.len(),
        }
    }
}

/// Scaled pictures kept in memory, by the SHA-256 of the picture they were made from and the
/// size asked: a picture that changes is a new key. Bounded by bytes; the oldest go first.
pub struct ScaledCache {
    budget: usize,
    used: usize,
    order: std::collections::VecDeque<Key>,
    entries: std::collections::HashMap<Key, Kept>,
}

impl ScaledCache {
    /// A cache of at most `budget` bytes of pictures.
    pub fn new(budget: usize) -> Self {
        Self {
            budget,
            used: 0,
            order: Default::default(),
            entries: Default::default(),
        }
    }

    /// The SHA-256 of a picture's bytes, its part of the keys.
    pub fn hash(source: &[u8]) -> [u8; 32] {
        use sha2::Digest;
        sha2::Sha256::digest(source).into()
    }

    /// What is kept under `key`.
    pub fn get(&self, key: &Key) -> Option<Kept> {
        self.entries.get(key).cloned()
    }

    /// Keeps `kept` under `key` (not when it alone is over the budget).
    pub fn put(&mut self, key: Key, kept: Kept) {
        let len = kept.len();
        if len > self.budget || self.entries.contains_key(&key) {
            return;
        }
        while self.used + len > self.budget {
            let Some(old) = self.order.pop_front() else {
                break;
            };
            if let Some(gone) = self.entries.remove(&old) {
                self.used -= gone.len();
            }
        }
        self.used += len;
        self.order.push_back(key);
        self.entries.insert(key, kept);
    }
}

/// The folder's cover file beside `song_file`: the first of [`COVER_NAMES`] x
/// [`COVER_EXTENSIONS`] (compared without case) that is a file; `None` when there is none or
/// the folder cannot be read.
pub fn folder_cover(song_file: &Path) -> Option<PathBuf> {
    let folder = song_file.parent()?;
    let mut best: Option<(usize, PathBuf)> = None;
    for entry in std::fs::read_dir(folder).ok()?.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some((stem, ext)) = name.rsplit_once('.') else {
            continue;
        };
        let (stem, ext) = (stem.to_ascii_lowercase(), ext.to_ascii_lowercase());
        let (Some(s), Some(e)) = (
            COVER_NAMES.iter().position(|n| *n == stem),
            COVER_EXTENSIONS.iter().position(|x| *x == ext),
        ) else {
            continue;
        };
        let rank = s * COVER_EXTENSIONS.len() + e;
        if best.as_ref().is_some_and(|(r, _)| *r <= rank) {
            continue;
        }
        // A file (followed through links), not too large to read.
        let ok =
            std::fs::metadata(entry.path()).is_ok_and(|m| m.is_file() && m.len() <= MAX_COVER_FILE);
        if ok {
            best = Some((rank, entry.path()));
        }
    }
    best.map(|(_, p)| p)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png_of(w: u32, h: u32, color: png::ColorType, px: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut enc = png::Encoder::new(&mut out, w, h);
        enc.set_color(color);
        enc.set_depth(png::BitDepth::Eight);
        let mut wr = enc.write_header().unwrap();
        wr.write_image_data(px).unwrap();
        wr.finish().unwrap();
        out
    }

    fn jpeg_of(w: u16, h: u16, px: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        jpeg_encoder::Encoder::new(&mut out, 90)
            .encode(px, w, h, jpeg_encoder::ColorType::Rgb)
            .unwrap();
        out
    }

    fn png_size(bytes: &[u8]) -> (u32, u32, png::ColorType) {
        let r = png::Decoder::new(Cursor::new(bytes)).read_info().unwrap();
        let i = r.info();
        (i.width, i.height, i.color_type)
    }

    #[test]
    fn the_longer_side_is_fitted_never_enlarged() {
        assert_eq!(fit(1000, 500, 300), Some((300, 150)));
        assert_eq!(fit(500, 1000, 300), Some((150, 300)));
        assert_eq!(fit(300, 200, 300), None);
        assert_eq!(fit(3000, 1, 300), Some((300, 1)));
    }

    #[test]
    fn kinds_from_bytes() {
        assert_eq!(mime_of(&jpeg_of(2, 2, &[0; 12])), Some(JPEG));
        assert_eq!(
            mime_of(&png_of(1, 1, png::ColorType::Rgb, &[1, 2, 3])),
            Some(PNG)
        );
        assert_eq!(mime_of(b"GIF89a...."), Some("image/gif"));
        assert_eq!(mime_of(b"RIFF\0\0\0\0WEBPVP8 "), Some("image/webp"));
        assert_eq!(mime_of(b"BM.."), Some("image/bmp"));
        assert_eq!(mime_of(b"ID3"), None);
        assert_eq!(mime_of(b""), None);
    }

    #[test]
    fn a_jpeg_is_scaled_down_keeping_its_aspect_and_colour() {
        let (w, h) = (400u16, 200u16);
        let px: Vec<u8> = std::iter::repeat_n([200u8, 40, 40], usize::from(w) * usize::from(h))
            .flatten()
            .collect();
        let s = scale(&jpeg_of(w, h, &px), 100).unwrap().unwrap();
        assert_eq!(s.mime, "image/jpeg");
        let mut d = zune_jpeg::JpegDecoder::new(Cursor::new(&s.bytes));
        let out = d.decode().unwrap();
        let i = d.info().unwrap();
        assert_eq!((i.width, i.height), (100, 50));
        let mid = (25 * 100 + 50) * 3;
        for (got, want) in out[mid..mid + 3].iter().zip([200u8, 40, 40]) {
            assert!(got.abs_diff(want) < 12, "{:?}", &out[mid..mid + 3]);
        }
        // Never enlarged: a size at or above the longer side keeps the picture as it is.
        assert!(scale(&jpeg_of(w, h, &px), 400).unwrap().is_none());
        assert!(scale(&jpeg_of(w, h, &px), 2000).unwrap().is_none());
    }

    #[test]
    fn pngs_keep_their_alpha_and_grey_becomes_rgb() {
        let rgba: Vec<u8> = std::iter::repeat_n([10u8, 20, 30, 128], 64 * 32)
            .flatten()
            .collect();
        let s = scale(&png_of(64, 32, png::ColorType::Rgba, &rgba), 16)
            .unwrap()
            .unwrap();
        assert_eq!(s.mime, "image/png");
        assert_eq!(png_size(&s.bytes), (16, 8, png::ColorType::Rgba));
        let grey = vec![77u8; 30 * 90];
        let s = scale(&png_of(30, 90, png::ColorType::Grayscale, &grey), 45)
            .unwrap()
            .unwrap();
        assert_eq!(png_size(&s.bytes), (15, 45, png::ColorType::Rgb));
    }

    #[test]
    fn what_cannot_be_scaled_says_why() {
        assert!(matches!(
            scale(b"GIF89a....", 10),
            Err(ScaleError::Unsupported)
        ));
        let mut broken = jpeg_of(64, 64, &[90; 64 * 64 * 3]);
        broken.truncate(40);
        assert!(scale(&broken, 10).is_err());
        assert!(scale(b"\x89PNG\r\n\x1a\nnonsense", 10).is_err());
    }

    #[test]
    fn the_cache_keeps_the_newest_within_its_budget() {
        let pic = |n: usize| {
            Kept::Scaled(std::sync::Arc::new(Scaled {
                bytes: vec![0; n],
                mime: "image/png",
            }))
        };
        let key = |s: &[u8], size| Key::Scaled(ScaledCache::hash(s), size);
        let mut c = ScaledCache::new(100);
        let (a, b, d) = (key(b"a", 10), key(b"b", 10), key(b"a", 20));
        assert_ne!(a, d, "another size is another key");
        c.put(a, pic(60));
        c.put(b, pic(30));
        assert_eq!(c.used, 90);
        c.put(d, pic(50));
        assert!(c.get(&a).is_none(), "the oldest went first");
        assert!(c.get(&b).is_some() && c.get(&d).is_some());
        assert_eq!(c.used, 80);
        c.put(key(b"big", 1), pic(101));
        assert_eq!(c.used, 80, "one picture over the budget is not kept");
    }

    /// A 1 x 1 PNG whose header declares `w` x `h` (its CRC fixed): nothing to decode behind.
    fn png_declaring(w: u32, h: u32) -> Vec<u8> {
        let mut b = png_of(1, 1, png::ColorType::Rgb, &[1, 2, 3]);
        b[16..20].copy_from_slice(&w.to_be_bytes());
        b[20..24].copy_from_slice(&h.to_be_bytes());
        let crc = b[12..29].iter().fold(!0u32, |mut c, &byte| {
            c ^= u32::from(byte);
            for _ in 0..8 {
                c = if c & 1 == 1 {
                    (c >> 1) ^ 0xEDB8_8320
                } else {
                    c >> 1
                };
            }
            c
        });
        b[29..33].copy_from_slice(&(!crc).to_be_bytes());
        b
    }

    #[test]
    fn pictures_over_the_pixel_cap_are_refused_before_decoding() {
        let huge = png_declaring(6900, 6900);
        assert_eq!(dimensions(&huge).unwrap(), (6900, 6900, PNG));
        assert!(matches!(
            scale(&huge, 300),
            Err(ScaleError::TooLarge {
                width: 6900,
                height: 6900
            })
        ));
        let cache = std::sync::Mutex::new(ScaledCache::new(1 << 20));
        let r = scale_cached(&huge, ScaledCache::hash(&huge), 300, &cache);
        assert!(matches!(r, Err(ScaleError::TooLarge { .. })));
        // Small enough to be served as it is: not even the cap is asked.
        assert!(scale(&png_declaring(6900, 6900), 7000).unwrap().is_none());
    }

    #[test]
    fn sizes_are_scaled_from_the_bucket_kept_once() {
        let (w, h) = (1000u16, 600u16);
        let px: Vec<u8> = (0..usize::from(w) * usize::from(h))
            .flat_map(|i| [(i % 251) as u8, 90, 30])
            .collect();
        let jpeg = jpeg_of(w, h, &px);
        let hash = ScaledCache::hash(&jpeg);
        let cache = std::sync::Mutex::new(ScaledCache::new(16 << 20));
        for size in [301u32, 302, 512, 300] {
            let s = scale_cached(&jpeg, hash, size, &cache).unwrap().unwrap();
            let mut d = zune_jpeg::JpegDecoder::new(Cursor::new(&s.bytes));
            d.decode().unwrap();
            let i = d.info().unwrap();
            let want = fit(1000, 600, size).unwrap();
            assert_eq!((u32::from(i.width), u32::from(i.height)), want, "{size}");
        }
        let c = cache.lock().unwrap();
        let Some(Kept::Pixels(base)) = c.get(&Key::Pixels(hash, 512)) else {
            panic!("the 512 bucket is kept");
        };
        assert_eq!((base.width, base.height), (512, 307));
        assert!(c.get(&Key::Scaled(hash, 302)).is_some());
        assert_eq!(c.entries.len(), 5, "one bucket and four answers");
        drop(c);
        // Beyond the largest bucket: straight from the picture.
        assert!(scale_cached(&jpeg, hash, 4000, &cache).unwrap().is_none());
    }

    #[test]
    fn the_folder_cover_by_name_then_extension_in_any_case() {
        let d = tempfile::tempdir().unwrap();
        let song = d.path().join("01 Song.flac");
        std::fs::write(&song, b"x").unwrap();
        assert_eq!(folder_cover(&song), None);
        std::fs::write(d.path().join("ALBUM.PNG"), b"p").unwrap();
        std::fs::write(d.path().join("notes.jpg"), b"n").unwrap();
        assert_eq!(folder_cover(&song), Some(d.path().join("ALBUM.PNG")));
        std::fs::write(d.path().join("Front.png"), b"p").unwrap();
        std::fs::write(d.path().join("front.Jpg"), b"j").unwrap();
        assert_eq!(folder_cover(&song), Some(d.path().join("front.Jpg")));
        std::fs::create_dir(d.path().join("cover.jpg")).unwrap();
        assert_eq!(folder_cover(&song), Some(d.path().join("front.Jpg")));
        std::fs::write(d.path().join("Folder.jpeg"), b"f").unwrap();
        assert_eq!(folder_cover(&song), Some(d.path().join("Folder.jpeg")));
    }
}
