//! What an upload is, from its bytes alone, and pictures made safe to keep:
//! decoded under pixel and memory limits (read from the header first, so a
//! tiny file claiming 20,000 x 20,000 pixels is refused before anything is
//! allocated), turned upright, written again without their metadata (EXIF,
//! GPS, XMP, comments) and given a thumbnail.

use app::media::MediaKind;
use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::codecs::webp::WebPEncoder;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};
use std::io::BufReader;

/// Longest side of a thumbnail, in pixels: twice the widest the log shows
/// one (for high-density screens).
pub const THUMB_PX: u32 = 640;

/// JPEG quality of pictures written again, and of thumbnails.
const JPEG_QUALITY: u8 = 88;
const THUMB_QUALITY: u8 = 80;

/// The type of `head` (the first bytes of a file) and how it shows.
/// Text has no magic number; it and anything unknown is a plain download.
pub fn sniff(head: &[u8]) -> (String, MediaKind) {
    let mime = infer::get(head)
        .map(|t| t.mime_type().to_owned())
        .unwrap_or_else(|| "application/octet-stream".to_owned());
    let kind = match mime.as_str() {
        "image/jpeg" | "image/png" | "image/gif" | "image/webp" => MediaKind::Image,
        "video/mp4" | "video/webm" => MediaKind::Video,
        _ => MediaKind::File,
    };
    (mime, kind)
}

/// Whether a type is on the allow list (`type/subtype`, `type/*`, `*/*`).
pub fn allowed(mime: &str, types: &[String]) -> bool {
    let family = mime.split('/').next().unwrap_or("");
    types
        .iter()
        .any(|t| t == mime || t == "*/*" || t.strip_suffix("/*").is_some_and(|f| f == family))
}

/// Why a picture was refused; the text is for people.
#[derive(Debug, thiserror::Error)]
pub enum PictureRefusal {
    #[error(
        "That picture is {width} × {height} pixels; pictures can have at most {max_mp} megapixels"
    )]
    TooManyPixels {
        width: u32,
        height: u32,
        max_mp: u64,
    },
    #[error("That picture could not be read (it is damaged, or not what it claims to be)")]
    Unreadable(#[source] image::ImageError),
}

/// A picture as it will be kept.
pub struct Picture {
    /// `None`: the original file is kept as it is (a GIF).
    pub bytes: Option<Vec<u8>>,
    pub content_type: &'static str,
    pub width: u32,
    pub height: u32,
    /// A JPEG at most [`THUMB_PX`] on its longer side; `None` when the
    /// picture is that small already.
    pub thumb: Option<Vec<u8>>,
}

/// Decodes the picture in the file `original` (of `mime`, sniffed), with at most
/// `max_pixels`, and writes it again without metadata. GIFs keep their
/// frames: they carry no EXIF, and animation is what people share them for.
pub fn picture(
    original: &std::path::Path,
    mime: &str,
    max_pixels: u64,
) -> Result<Picture, PictureRefusal> {
    let format = match mime {
        "image/jpeg" => ImageFormat::Jpeg,
        "image/png" => ImageFormat::Png,
        "image/gif" => ImageFormat::Gif,
        _ => ImageFormat::WebP,
    };
    let open = || {
        let file = std::fs::File::open(original)
            .map_err(|err| PictureRefusal::Unreadable(image::ImageError::IoError(err)))?;
        let mut reader = ImageReader::new(BufReader::new(file));
        reader.set_format(format);
        Ok::<_, PictureRefusal>(reader)
    };
    // The header alone first: its claimed size decides before any pixel
    // is allocated (the limits below would only say "too big" less clearly).
    let mut header = open()?;
    header.no_limits();
    let (width, height) = header
        .into_dimensions()
        .map_err(PictureRefusal::Unreadable)?;
    if u64::from(width) * u64::from(height) > max_pixels {
        return Err(PictureRefusal::TooManyPixels {
            width,
            height,
            max_mp: max_pixels / 1_000_000,
        });
    }
    let mut reader = open()?;
    let mut limits = Limits::default();
    // A decoded pixel takes at most 8 bytes (16-bit RGBA), plus the
    // decoder's own buffers.
    limits.max_alloc = Some(max_pixels.saturating_mul(8) + (64 << 20));
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(PictureRefusal::Unreadable)?;
    // A broken orientation tag is no reason to refuse the picture.
    let orientation = decoder.orientation().ok();
    let mut image = DynamicImage::from_decoder(decoder).map_err(PictureRefusal::Unreadable)?;
    if let Some(orientation) = orientation {
        image.apply_orientation(orientation);
    }
    let (bytes, content_type) = match format {
        ImageFormat::Gif => (None, "image/gif"),
        ImageFormat::Jpeg => (Some(jpeg(&image, JPEG_QUALITY)?), "image/jpeg"),
        ImageFormat::Png => {
            let mut out = Vec::new();
            image
                .write_with_encoder(PngEncoder::new(&mut out))
                .map_err(PictureRefusal::Unreadable)?;
            (Some(out), "image/png")
        }
        _ => {
            let mut out = Vec::new();
            image
                .to_rgba8()
                .write_with_encoder(WebPEncoder::new_lossless(&mut out))
                .map_err(PictureRefusal::Unreadable)?;
            (Some(out), "image/webp")
        }
    };
    let thumb = if image.width().max(image.height()) > THUMB_PX {
        Some(jpeg(&image.thumbnail(THUMB_PX, THUMB_PX), THUMB_QUALITY)?)
    } else {
        None
    };
    Ok(Picture {
        bytes,
        content_type,
        width: image.width(),
        height: image.height(),
        thumb,
    })
}

/// `image` as a JPEG; transparency is laid on white (JPEG has none).
fn jpeg(image: &DynamicImage, quality: u8) -> Result<Vec<u8>, PictureRefusal> {
    let rgb = if image.color().has_alpha() {
        let mut rgba = image.to_rgba8();
        for pixel in rgba.pixels_mut() {
            let alpha = u16::from(pixel[3]);
            for c in 0..3 {
                pixel[c] = ((u16::from(pixel[c]) * alpha + 255 * (255 - alpha)) / 255) as u8;
            }
        }
        DynamicImage::ImageRgba8(rgba).to_rgb8()
    } else {
        image.to_rgb8()
    };
    let mut out = Vec::new();
    rgb.write_with_encoder(JpegEncoder::new_with_quality(&mut out, quality))
        .map_err(PictureRefusal::Unreadable)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_come_from_the_bytes() {
        let png = [0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0];
        assert_eq!(sniff(&png), ("image/png".into(), MediaKind::Image));
        assert_eq!(sniff(b"just some words").1, MediaKind::File);
        assert_eq!(
            sniff(b"<html><script>alert(1)</script></html>").1,
            MediaKind::File
        );
    }

    #[test]
    fn the_allow_list_takes_families() {
        let types = ["image/png".to_owned(), "text/*".to_owned()];
        assert!(allowed("image/png", &types));
        assert!(allowed("text/html", &types));
        assert!(!allowed("image/gif", &types));
    }
}
