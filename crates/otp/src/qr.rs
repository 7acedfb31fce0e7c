//! QR codes of a Key URI (feature `qr`): SVG, PNG, a `data:` URI for an `<img>`, and a
//! terminal rendering.
//!
//! Every rendering encodes the secret, so each is returned in a [`Zeroizing`] buffer; serve it
//! with `Cache-Control: no-store` and never log it. The module matrix inside [`QrImage`] is
//! the `qrcode` crate's and is not wiped on drop: drop the image as soon as it is rendered. Error correction is level M and every
//! rendering keeps the four-module quiet zone scanners need. The QR matrix is built by the
//! `qrcode` crate; PNG encoding uses the `png` crate.

use base64::Engine as _;
use qrcode::render::{svg, unicode};
use qrcode::{Color, EcLevel, QrCode};
use zeroize::Zeroizing;

use crate::{KeyUri, QrError};

/// Pixels per module in PNG output: 8 gives ~300–400 px, sharp on phones' cameras.
const PNG_MODULE_PIXELS: usize = 8;
/// Modules of light margin around the code (ISO/IEC 18004 §6.3.8).
const QUIET_ZONE: usize = 4;

/// A QR code holding a Key URI, ready to render.
///
/// ```
/// use twostep_otp::{KeyUri, Secret, TotpParams};
///
/// let secret = Secret::from_base32("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ")?;
/// let uri = KeyUri::totp(secret, Some("DFINERY"), "alice@example.com", TotpParams::default())?;
/// let qr = uri.to_qr()?;
/// assert!(qr.to_svg().starts_with("<?xml"));
/// assert!(qr.to_png_data_uri()?.starts_with("data:image/png;base64,"));
/// print!("{}", *qr.to_terminal());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct QrImage {
    code: QrCode,
}

impl KeyUri {
    /// The QR code of [`KeyUri::to_uri`].
    ///
    /// # Errors
    /// [`QrError::TooLong`] when the URI exceeds a QR code's capacity (names of thousands of
    /// characters).
    pub fn to_qr(&self) -> Result<QrImage, QrError> {
        QrImage::new(self.to_uri().as_bytes())
    }
}

impl QrImage {
    /// Encodes any data at error-correction level M.
    ///
    /// # Errors
    /// [`QrError::TooLong`] when the data exceeds a QR code's capacity.
    pub fn new(data: &[u8]) -> Result<Self, QrError> {
        QrCode::with_error_correction_level(data, EcLevel::M)
            .map(|code| Self { code })
            .map_err(|_| QrError::TooLong)
    }

    /// Modules per side, without the quiet zone.
    pub fn modules(&self) -> usize {
        self.code.width()
    }

    /// An SVG document, at least 200×200 px, black on white.
    pub fn to_svg(&self) -> Zeroizing<String> {
        Zeroizing::new(
            self.code
                .render::<svg::Color<'_>>()
                .min_dimensions(200, 200)
                .quiet_zone(true)
                .build(),
        )
    }

    /// An 8-bit greyscale PNG, 8 px per module, black on white.
    ///
    /// # Errors
    /// [`QrError::Png`] if the PNG encoder fails (it writes to memory, so it does not in
    /// practice).
    pub fn to_png(&self) -> Result<Zeroizing<Vec<u8>>, QrError> {
        let side_modules = self.modules().saturating_add(QUIET_ZONE.saturating_mul(2));
        let side = side_modules.saturating_mul(PNG_MODULE_PIXELS);
        let colors = self.code.to_colors();
        let mut pixels = Zeroizing::new(vec![0xffu8; side.saturating_mul(side)]);
        for (y, row) in pixels.chunks_exact_mut(side).enumerate() {
            let module_y = (y / PNG_MODULE_PIXELS).checked_sub(QUIET_ZONE);
            for (x, pixel) in row.iter_mut().enumerate() {
                let module_x = (x / PNG_MODULE_PIXELS).checked_sub(QUIET_ZONE);
                let dark = module_x
                    .zip(module_y)
                    .filter(|&(mx, my)| mx < self.modules() && my < self.modules())
                    .and_then(|(mx, my)| {
                        colors.get(my.saturating_mul(self.modules()).saturating_add(mx))
                    })
                    .is_some_and(|color| *color == Color::Dark);
                if dark {
                    *pixel = 0;
                }
            }
        }
        let side = u32::try_from(side).map_err(|_| QrError::TooLong)?;
        let mut png_bytes = Zeroizing::new(Vec::new());
        let mut encoder = png::Encoder::new(&mut *png_bytes, side, side);
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().map_err(QrError::Png)?;
        writer.write_image_data(&pixels).map_err(QrError::Png)?;
        writer.finish().map_err(QrError::Png)?;
        Ok(png_bytes)
    }

    /// `data:image/png;base64,…`, for `<img src="…">` without a second request.
    ///
    /// # Errors
    /// As [`QrImage::to_png`].
    pub fn to_png_data_uri(&self) -> Result<Zeroizing<String>, QrError> {
        let png = self.to_png()?;
        let mut uri = Zeroizing::new(String::from("data:image/png;base64,"));
        base64::engine::general_purpose::STANDARD.encode_string(&*png, &mut uri);
        Ok(uri)
    }

    /// Unicode half blocks, two modules per character cell, for a terminal with a dark
    /// background: light modules are drawn as blocks, dark ones as spaces. Every line ends
    /// with a newline, the last one too, so what is printed after it starts on a line of its
    /// own.
    pub fn to_terminal(&self) -> Zeroizing<String> {
        let mut text = Zeroizing::new(
            self.code
                .render::<unicode::Dense1x2>()
                .dark_color(unicode::Dense1x2::Light)
                .light_color(unicode::Dense1x2::Dark)
                .quiet_zone(true)
                .build(),
        );
        text.push('\n');
        text
    }
}

impl core::fmt::Debug for QrImage {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("QrImage")
            .field("modules", &self.modules())
            .finish_non_exhaustive()
    }
}
