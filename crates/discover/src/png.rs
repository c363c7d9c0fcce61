//! A static picture of the map: plotters' bitmap backend draws the points, the `png` crate
//! encodes them. No text is drawn (plotters' text needs system fonts or a bundled font, and
//! neither is guaranteed offline); the HTML page carries the names.

use plotters::prelude::*;

use crate::map::{ColorBy, MapData, PALETTE};
use crate::{DiscoverError, DiscoverResult};

/// Background colour of the image.
pub const BACKGROUND: [u8; 3] = [255, 255, 255];
/// Blank border around the points, in pixels.
pub const MARGIN: u32 = 16;

fn hex_colour(s: &str) -> RGBColor {
    let v = u32::from_str_radix(s.trim_start_matches('#'), 16).unwrap_or(0x80_80_80);
    RGBColor((v >> 16) as u8, (v >> 8) as u8, v as u8)
}

/// The data range of a map and where its points land in an image.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Frame {
    min_x: f32,
    min_y: f32,
    span_x: f32,
    span_y: f32,
}

impl Frame {
    /// The bounding box of the map's points.
    pub fn of(data: &MapData) -> Self {
        let (mut min_x, mut max_x, mut min_y, mut max_y) = (f32::MAX, f32::MIN, f32::MAX, f32::MIN);
        for p in &data.points {
            min_x = min_x.min(p.x);
            max_x = max_x.max(p.x);
            min_y = min_y.min(p.y);
            max_y = max_y.max(p.y);
        }
        let span = |lo: f32, hi: f32| if hi > lo { hi - lo } else { 1.0 };
        Self {
            min_x,
            min_y,
            span_x: span(min_x, max_x),
            span_y: span(min_y, max_y),
        }
    }

    /// Pixel of point `(x, y)` in a `w`×`h` image (y grows downwards, [`MARGIN`] kept free).
    pub fn pixel(&self, w: u32, h: u32, x: f32, y: f32) -> (i32, i32) {
        let (iw, ih) = (
            w.saturating_sub(2 * MARGIN).max(1) as f32,
            h.saturating_sub(2 * MARGIN).max(1) as f32,
        );
        let px = MARGIN as f32 + (x - self.min_x) / self.span_x * iw;
        let py = h as f32 - MARGIN as f32 - (y - self.min_y) / self.span_y * ih;
        (px.round() as i32, py.round() as i32)
    }
}

/// The map as PNG bytes, `width`×`height` pixels, points coloured `by`.
pub fn render(data: &MapData, width: u32, height: u32, by: ColorBy) -> DiscoverResult<Vec<u8>> {
    if !(32..=10_000).contains(&width) || !(32..=10_000).contains(&height) {
        return Err(DiscoverError::Invalid(format!(
            "image size {width}x{height}: each side must be 32 to 10000 pixels"
        )));
    }
    let mut buf = vec![0u8; width as usize * height as usize * 3];
    {
        let draw = |e: DrawingAreaErrorKind<_>| DiscoverError::Draw(e.to_string());
        let root = BitMapBackend::with_buffer(&mut buf, (width, height)).into_drawing_area();
        let [r, g, b] = BACKGROUND;
        root.fill(&RGBColor(r, g, b)).map_err(draw)?;
        let radius = if data.points.len() > 3000 { 2 } else { 4 };
        let frame = Frame::of(data);
        for (i, p) in data.points.iter().enumerate() {
            let c = hex_colour(PALETTE[data.colour_index(i, by)]);
            root.draw(&Circle::new(
                frame.pixel(width, height, p.x, p.y),
                radius,
                c.filled(),
            ))
            .map_err(draw)?;
        }
        root.present().map_err(draw)?;
    }
    let mut out = Vec::new();
    {
        let mut enc = ::png::Encoder::new(&mut out, width, height);
        enc.set_color(::png::ColorType::Rgb);
        enc.set_depth(::png::BitDepth::Eight);
        let mut w = enc
            .write_header()
            .map_err(|e| DiscoverError::Draw(e.to_string()))?;
        w.write_image_data(&buf)
            .map_err(|e| DiscoverError::Draw(e.to_string()))?;
    }
    Ok(out)
}
