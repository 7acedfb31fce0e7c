//! Every QR rendering decodes back to the exact URI through a real QR decoder (`rqrr`); the
//! SVG is rasterised by `resvg` first, and the terminal rendering is read back cell by cell.
#![cfg(feature = "qr")]

use twostep_otp::{Algorithm, Digits, KeyUri, Period, Secret, TotpParams};

#[allow(clippy::expect_used, clippy::indexing_slicing)] // a failed setup is a failed test
fn uris() -> Vec<KeyUri> {
    let mut rng = rand::rng();
    let defaults = KeyUri::totp(
        Secret::generate(&mut rng),
        Some("DFINERY"),
        "alice@example.com",
        TotpParams::default(),
    );
    let unusual = KeyUri::totp(
        Secret::generate_for(Algorithm::Sha512, &mut rng),
        Some("Big Corporation & Sons"),
        "홍길동+2fa@example.co.kr",
        TotpParams {
            algorithm: Algorithm::Sha512,
            digits: Digits::EIGHT,
            period: Period::new(60).expect("60"),
            t0: 0,
        },
    );
    vec![defaults.expect("valid"), unusual.expect("valid")]
}

/// Decodes the single QR code in a greyscale image (0 = black).
#[allow(clippy::expect_used, clippy::indexing_slicing)] // a failed setup is a failed test
fn decode(width: usize, height: usize, luma: impl Fn(usize, usize) -> u8) -> String {
    let mut image = rqrr::PreparedImage::prepare_from_greyscale(width, height, luma);
    let grids = image.detect_grids();
    assert_eq!(grids.len(), 1, "exactly one QR code in the image");
    grids[0].decode().expect("decodes").1
}

#[test]
fn png_decodes_to_the_exact_uri() {
    for uri in uris() {
        let png_bytes = uri.to_qr().expect("fits").to_png().expect("encodes");
        let decoder = png::Decoder::new(std::io::Cursor::new(&png_bytes[..]));
        let mut reader = decoder.read_info().expect("a PNG");
        let mut pixels = vec![0; reader.output_buffer_size().expect("size")];
        let info = reader.next_frame(&mut pixels).expect("a frame");
        assert_eq!(info.color_type, png::ColorType::Grayscale);
        let (w, h) = (info.width as usize, info.height as usize);
        assert_eq!(decode(w, h, |x, y| pixels[y * w + x]), *uri.to_uri());
    }
}

#[test]
fn png_data_uri_wraps_the_same_png() {
    use base64::Engine as _;
    let uri = &uris()[0];
    let qr = uri.to_qr().expect("fits");
    let data_uri = qr.to_png_data_uri().expect("encodes");
    let payload = data_uri
        .strip_prefix("data:image/png;base64,")
        .expect("prefix");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(payload)
        .expect("base64");
    assert_eq!(bytes, *qr.to_png().expect("encodes"));
}

#[test]
fn svg_decodes_to_the_exact_uri() {
    use resvg::{tiny_skia, usvg};
    for uri in uris() {
        let svg = uri.to_qr().expect("fits").to_svg();
        let tree = usvg::Tree::from_str(&svg, &usvg::Options::default()).expect("valid SVG");
        let size = tree.size().to_int_size();
        // Render at 2× on white so modules land on whole pixels.
        let (w, h) = (size.width() * 2, size.height() * 2);
        let mut pixmap = tiny_skia::Pixmap::new(w, h).expect("non-empty");
        pixmap.fill(tiny_skia::Color::WHITE);
        resvg::render(
            &tree,
            tiny_skia::Transform::from_scale(2.0, 2.0),
            &mut pixmap.as_mut(),
        );
        let (w, h) = (w as usize, h as usize);
        let rgba = pixmap.data();
        assert_eq!(decode(w, h, |x, y| rgba[(y * w + x) * 4]), *uri.to_uri());
    }
}

#[test]
fn terminal_rendering_decodes_to_the_exact_uri() {
    for uri in uris() {
        let text = uri.to_qr().expect("fits").to_terminal();
        assert!(text.ends_with('\n'), "the last line is ended too");
        // Each character is two modules stacked; blocks are light (for dark terminals).
        let mut rows: Vec<Vec<bool>> = Vec::new(); // true = dark module
        for line in text.lines() {
            let (mut top, mut bottom) = (Vec::new(), Vec::new());
            for ch in line.chars() {
                let (t, b) = match ch {
                    '█' => (false, false),
                    '▀' => (false, true),
                    '▄' => (true, false),
                    ' ' => (true, true),
                    other => panic!("unexpected character {other:?}"),
                };
                top.push(t);
                bottom.push(b);
            }
            rows.push(top);
            rows.push(bottom);
        }
        let modules = rows[0].len();
        assert!(rows.iter().all(|row| row.len() == modules), "a square grid");
        // Scale each module to 4×4 pixels for the detector.
        let scale = 4;
        let luma = |x: usize, y: usize| {
            let dark = rows
                .get(y / scale)
                .and_then(|row| row.get(x / scale))
                .copied()
                .unwrap_or(false);
            if dark { 0 } else { 255 }
        };
        assert_eq!(
            decode(modules * scale, rows.len() * scale, luma),
            *uri.to_uri()
        );
    }
}
