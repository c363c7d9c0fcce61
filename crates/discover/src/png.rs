//! A static picture of the map: plotters' bitmap backend draws the points, a caption and a
//! legend (what each colour means) are drawn with the public-domain 8×8 bitmap font of the
//! `font8x8` crate (plotters' own text needs system fonts, which are not guaranteed offline),
//! and the `png` crate encodes the image. The HTML page carries every song's name.

use font8x8::UnicodeFonts;
use plotters::prelude::*;

use crate::error::{DiscoverError, DiscoverResult};
use crate::map::{ColorBy, MapData, PALETTE};

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

    /// Pixel of point `(x, y)` in the plot area of an image.
    pub fn pixel(&self, area: &PlotArea, x: f32, y: f32) -> (i32, i32) {
        let iw = (area.right - area.left).max(1) as f32;
        let ih = (area.bottom - area.top).max(1) as f32;
        let px = area.left as f32 + (x - self.min_x) / self.span_x * iw;
        let py = area.bottom as f32 - (y - self.min_y) / self.span_y * ih;
        (px.round() as i32, py.round() as i32)
    }
}

/// Where points go in an image: inside [`MARGIN`], below the caption and left of the legend.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PlotArea {
    /// Leftmost pixel column of a point's centre.
    pub left: i32,
    /// Top pixel row.
    pub top: i32,
    /// Rightmost column.
    pub right: i32,
    /// Bottom row.
    pub bottom: i32,
}

impl PlotArea {
    /// The plot area of a `width`×`height` image of `data` coloured `by`.
    pub fn of(data: &MapData, width: u32, height: u32, by: ColorBy) -> Self {
        Self::around(
            LegendBox::of(data, width, height, by).as_ref(),
            width,
            height,
        )
    }

    /// The plot area of a `width`×`height` image that holds `legend` (if any).
    fn around(legend: Option<&LegendBox>, width: u32, height: u32) -> Self {
        let (w, h) = (width as i32, height as i32);
        let m = MARGIN as i32;
        let mut area = PlotArea {
            left: m,
            top: m,
            right: w - m,
            bottom: h - m,
        };
        if let Some(lg) = legend {
            area.top = area.top.max(lg.caption_bottom as i32 + m / 2);
            // Beside the legend when that leaves most of the width, else below it.
            if lg.x0 as i32 - m > w / 2 {
                area.right = lg.x0 as i32 - m / 2;
            } else {
                area.top = area.top.max((lg.y0 + lg.h) as i32 + m / 2);
            }
        }
        if area.bottom <= area.top {
            area.top = m.min(h / 2);
            area.bottom = (h - m).max(area.top + 1);
        }
        area
    }
}

/// The map as PNG bytes, `width`×`height` pixels, points coloured `by`.
pub fn render(data: &MapData, width: u32, height: u32, by: ColorBy) -> DiscoverResult<Vec<u8>> {
    if !(32..=10_000).contains(&width) || !(32..=10_000).contains(&height) {
        return Err(DiscoverError::Invalid(format!(
            "image size {width}x{height}: each side must be 32 to 10000 pixels"
        )));
    }
    let legend = LegendBox::of(data, width, height, by);
    let mut buf = vec![0u8; width as usize * height as usize * 3];
    {
        let draw = |e: DrawingAreaErrorKind<_>| DiscoverError::Draw(e.to_string());
        let root = BitMapBackend::with_buffer(&mut buf, (width, height)).into_drawing_area();
        let [r, g, b] = BACKGROUND;
        root.fill(&RGBColor(r, g, b)).map_err(draw)?;
        let radius = if data.points.len() > 3000 { 2 } else { 4 };
        let frame = Frame::of(data);
        let area = PlotArea::around(legend.as_ref(), width, height);
        for (i, p) in data.points.iter().enumerate() {
            let c = hex_colour(PALETTE[data.colour_index(i, by)]);
            root.draw(&Circle::new(
                frame.pixel(&area, p.x, p.y),
                radius,
                c.filled(),
            ))
            .map_err(draw)?;
        }
        root.present().map_err(draw)?;
    }
    let mut canvas = Canvas {
        buf: &mut buf,
        width,
        height,
    };
    if let Some(lg) = &legend {
        canvas.caption_and_legend(lg);
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

/// Text: one 8×8 glyph per character, doubled in images at least this wide.
const LARGE_TEXT_WIDTH: u32 = 800;
/// Longest label in the legend, in characters.
const LABEL_CHARS: usize = 24;
const TEXT: [u8; 3] = [40, 40, 40];

/// The legend's rows for a colouring: (palette index, label with its number of songs), in
/// palette order; only colours some point uses ([`crate::map::Colouring::legend`], the
/// legend of the web page too).
pub fn legend(data: &MapData, by: ColorBy) -> Vec<(usize, String)> {
    data.colouring
        .legend(
            data.points.iter().map(|p| (p.genre.as_str(), p.cluster)),
            by,
        )
        .into_iter()
        .map(|(c, label, n)| (c, format!("{label} ({n})")))
        .collect()
}

/// The RGB pixels plotters drew into, for the text.
struct Canvas<'a> {
    buf: &'a mut [u8],
    width: u32,
    height: u32,
}

impl Canvas<'_> {
    fn set(&mut self, x: i64, y: i64, rgb: [u8; 3]) {
        if x < 0 || y < 0 || x >= i64::from(self.width) || y >= i64::from(self.height) {
            return;
        }
        let at = (y as usize * self.width as usize + x as usize) * 3;
        self.buf[at..at + 3].copy_from_slice(&rgb);
    }

    fn rect(&mut self, x: i64, y: i64, w: i64, h: i64, rgb: [u8; 3]) {
        for yy in y..y + h {
            for xx in x..x + w {
                self.set(xx, yy, rgb);
            }
        }
    }

    fn glyph(c: char) -> [u8; 8] {
        font8x8::BASIC_FONTS
            .get(c)
            .or_else(|| font8x8::LATIN_FONTS.get(c))
            .or_else(|| font8x8::BASIC_FONTS.get('?'))
            .unwrap_or([0; 8])
    }

    /// Draws `text` with its top-left corner at (x, y); returns its width in pixels.
    fn text(&mut self, x: i64, y: i64, text: &str, scale: i64, rgb: [u8; 3]) -> i64 {
        let mut cx = x;
        for ch in text.chars() {
            for (row, bits) in Self::glyph(ch).iter().enumerate() {
                for col in 0..8 {
                    if bits & (1 << col) != 0 {
                        self.rect(cx + col * scale, y + row as i64 * scale, scale, scale, rgb);
                    }
                }
            }
            cx += 8 * scale;
        }
        cx - x
    }

    /// A caption (songs and model) at the top left, and a legend box at the top right.
    /// (An image too small for them gets neither: [`LegendBox::of`] is `None`.)
    fn caption_and_legend(&mut self, lg: &LegendBox) {
        self.text(4, 4, &lg.caption, lg.scale, TEXT);
        self.rect(lg.x0, lg.y0, lg.w, lg.h, [200, 200, 200]);
        self.rect(lg.x0 + 1, lg.y0 + 1, lg.w - 2, lg.h - 2, [250, 250, 250]);
        let (pad, swatch, line) = (4 * lg.scale, 8 * lg.scale, 10 * lg.scale);
        for (i, (c, label)) in lg.rows.iter().enumerate() {
            let y = lg.y0 + pad + i as i64 * line;
            self.rect(lg.x0 + pad, y, swatch, swatch, hex_rgb(PALETTE[*c]));
            self.text(lg.x0 + pad * 2 + swatch, y, label, lg.scale, TEXT);
        }
    }
}

/// Where the caption and the legend go.
struct LegendBox {
    scale: i64,
    caption: String,
    caption_bottom: i64,
    rows: Vec<(usize, String)>,
    x0: i64,
    y0: i64,
    w: i64,
    h: i64,
}

impl LegendBox {
    /// `None` when the image is too small to hold them.
    fn of(data: &MapData, width: u32, height: u32, by: ColorBy) -> Option<Self> {
        let scale = if width >= LARGE_TEXT_WIDTH { 2 } else { 1 };
        let line = 10 * scale;
        let caption = format!(
            "{}, {}",
            songrec_storage::plural::count(data.points.len(), "song"),
            data.model
        );
        let fit = (width as usize / (8 * scale as usize)).saturating_sub(2);
        if fit < 8 {
            return None;
        }
        let caption = truncate(&caption, fit);
        let rows: Vec<(usize, String)> = legend(data, by)
            .into_iter()
            .map(|(c, l)| (c, truncate(&l, LABEL_CHARS)))
            .collect();
        let longest = rows
            .iter()
            .map(|(_, l)| l.chars().count())
            .max()
            .unwrap_or(0) as i64;
        let (pad, swatch) = (4 * scale, 8 * scale);
        let w = pad * 3 + swatch + longest * 8 * scale;
        let h = pad * 2 + line * rows.len() as i64;
        let x0 = i64::from(width) - w - 4;
        let y0 = 4 + line + 2;
        if x0 < 0 || y0 + h > i64::from(height) {
            return None;
        }
        Some(LegendBox {
            scale,
            caption,
            caption_bottom: 4 + line,
            rows,
            x0,
            y0,
            w,
            h,
        })
    }
}

fn hex_rgb(s: &str) -> [u8; 3] {
    let RGBColor(r, g, b) = hex_colour(s);
    [r, g, b]
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(n.saturating_sub(1)).collect();
        t.push('~');
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::map::Point;

    fn data(genres: &[&str], clusters: &[usize]) -> MapData {
        let points = clusters
            .iter()
            .enumerate()
            .map(|(i, &c)| Point {
                id: format!("{i}"),
                title: format!("song {i}"),
                artist: String::new(),
                genre: genres.get(i).copied().unwrap_or("").to_owned(),
                x: i as f32,
                y: (i * i) as f32,
                cluster: c,
                similar: Vec::new(),
            })
            .collect();
        let colouring = crate::map::Colouring::new(
            ColorBy::Genre,
            genres.iter().map(|g| Some(*g)),
            clusters.iter().max().copied().unwrap_or(0),
        );
        MapData {
            model: "songrec-dsp@3".into(),
            points,
            explained: [0.5, 0.2],
            colouring,
        }
    }

    fn decode(png: &[u8]) -> (Vec<u8>, u32, u32) {
        let mut r = ::png::Decoder::new(std::io::Cursor::new(png))
            .read_info()
            .unwrap();
        let mut buf = vec![0; r.output_buffer_size().unwrap()];
        let info = r.next_frame(&mut buf).unwrap();
        (buf, info.width, info.height)
    }

    #[test]
    fn legend_names_each_colour_used() {
        let d = data(&["rock", "jazz", "", "rock"], &[1, 2, 2, 1]);
        let g = legend(&d, ColorBy::Genre);
        assert_eq!(
            g,
            vec![
                (0, "rock (2)".to_owned()),
                (1, "jazz (1)".to_owned()),
                (PALETTE.len() - 1, "other / no genre (1)".to_owned())
            ]
        );
        let c = legend(&d, ColorBy::Cluster);
        assert_eq!(
            c,
            vec![
                (0, "cluster 1 (2)".to_owned()),
                (1, "cluster 2 (2)".to_owned())
            ]
        );
    }

    #[test]
    fn the_image_carries_a_legend_in_the_colours_of_the_points() {
        let d = data(&[], &[1, 2, 3, 1, 2, 3]);
        let png = render(&d, 400, 300, ColorBy::Cluster).unwrap();
        let (px, w, h) = decode(&png);
        assert_eq!((w, h), (400, 300));
        let at = |x: u32, y: u32| {
            let i = ((y * w + x) * 3) as usize;
            [px[i], px[i + 1], px[i + 2]]
        };
        // Dark text pixels in the caption row and in the legend's corner.
        let dark = |x0: u32, x1: u32, y0: u32, y1: u32| {
            (y0..y1).any(|y| (x0..x1).any(|x| at(x, y) == TEXT))
        };
        assert!(dark(4, 200, 4, 12), "caption");
        assert!(dark(280, 396, 16, 60), "legend labels");
        // The swatches of three clusters, top right.
        for (c, colour) in PALETTE.iter().enumerate().take(3) {
            let want = hex_rgb(colour);
            let found = (16..80u32).any(|y| (250..396u32).any(|x| at(x, y) == want));
            assert!(found, "swatch of cluster {}", c + 1);
        }
        // A tiny image has no room for a legend but still renders.
        assert!(render(&d, 32, 32, ColorBy::Cluster).is_ok());
    }

    #[test]
    fn long_and_foreign_labels_fit() {
        assert_eq!(truncate("électronique expérimentale", 10), "électroni~");
        assert_eq!(Canvas::glyph('é'), font8x8::LATIN_FONTS.get('é').unwrap());
        assert_eq!(Canvas::glyph('中'), font8x8::BASIC_FONTS.get('?').unwrap());
    }
}
