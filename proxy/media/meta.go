package media

import (
	"bytes"
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"image"
	_ "image/gif" // image.DecodeConfig for GIF headers
	_ "image/jpeg"
	_ "image/png"
	"mime"
	"net/http"
	"path"
	"strings"
)

// Meta is what the bridge knows of a file: from the source where it said,
// computed from the bytes where it did not.
type Meta struct {
	Name       string
	Ext        string
	Mime       string
	Size       int
	MD5        string
	Width      int
	Height     int
	DurationMS int64
}

// baseType is a content type without parameters, lowercase.
func baseType(ct string) string {
	t, _, err := mime.ParseMediaType(ct)
	if err != nil {
		t, _, _ = strings.Cut(ct, ";")
	}
	return strings.ToLower(strings.TrimSpace(t))
}

// checkType decides the content type of data for kind: the sniffed type
// for images (a declared type is not trusted), the declared type otherwise
// when it is specific. It refuses bytes that are not of the kind.
func checkType(kind, declared string, data []byte) (string, error) {
	sniffed := baseType(http.DetectContentType(data))
	decl := baseType(declared)
	generic := decl == "" || decl == "application/octet-stream" || decl == "binary/octet-stream"
	ct := decl
	if generic {
		ct = sniffed
	}
	switch kind {
	case "image":
		if !strings.HasPrefix(sniffed, "image/") {
			return "", ErrContentType
		}
		return sniffed, nil
	case "audio", "video":
		// Containers the sniffer does not know (AAC, AMR, MP4 variants)
		// come out as octet-stream; text and images never pass.
		if strings.HasPrefix(sniffed, "text/") || strings.HasPrefix(sniffed, "image/") {
			return "", ErrContentType
		}
		fam := kind + "/"
		if strings.HasPrefix(ct, fam) || ct == "application/octet-stream" ||
			kind == "video" && ct == "application/mp4" || kind == "audio" && ct == "video/mp4" {
			if ct == "application/octet-stream" && strings.HasPrefix(sniffed, fam) {
				ct = sniffed
			}
			return ct, nil
		}
		return "", ErrContentType
	}
	if ct == "" {
		ct = "application/octet-stream"
	}
	return ct, nil
}

// describe computes what the bytes tell.
func describe(kind, name, ct string, data []byte) Meta {
	sum := md5.Sum(data)
	m := Meta{Name: name, Mime: ct, Size: len(data), MD5: hex.EncodeToString(sum[:])}
	m.Ext = strings.TrimPrefix(strings.ToLower(path.Ext(name)), ".")
	if m.Ext == "" {
		m.Ext = extOf(ct)
	}
	if m.Name == "" {
		m.Name = kind
		if m.Ext != "" {
			m.Name += "." + m.Ext
		}
	}
	switch kind {
	case "image":
		if cfg, _, err := image.DecodeConfig(bytes.NewReader(data)); err == nil {
			m.Width, m.Height = cfg.Width, cfg.Height
		}
	case "audio", "video":
		m.DurationMS = durationMS(data)
	}
	return m
}

var extByType = map[string]string{
	"image/png": "png", "image/jpeg": "jpg", "image/gif": "gif", "image/webp": "webp", "image/bmp": "bmp",
	"audio/aac": "aac", "audio/mpeg": "mp3", "audio/wave": "wav", "audio/wav": "wav", "audio/amr": "amr",
	"audio/ogg": "ogg", "video/mp4": "mp4", "video/quicktime": "mov", "video/webm": "webm",
	"application/pdf": "pdf", "application/zip": "zip", "text/plain": "txt",
}

func extOf(ct string) string { return extByType[baseType(ct)] }

// durationMS reads the length of MP4/MOV (mvhd), WAV (fmt + data) and
// ADTS AAC streams; 0 when the format is not one of these.
func durationMS(b []byte) int64 {
	if d := mp4Duration(b); d > 0 {
		return d
	}
	if d := wavDuration(b); d > 0 {
		return d
	}
	return adtsDuration(b)
}

// mp4Duration walks top-level boxes to moov/mvhd.
func mp4Duration(b []byte) int64 {
	box := func(b []byte, want string) []byte {
		for i := 0; i < 1000 && len(b) >= 8; i++ {
			size := int(binary.BigEndian.Uint32(b))
			hdr := 8
			if size == 1 && len(b) >= 16 {
				size, hdr = int(binary.BigEndian.Uint64(b[8:])), 16
			} else if size == 0 {
				size = len(b)
			}
			if size < hdr || size > len(b) {
				return nil
			}
			if string(b[4:8]) == want {
				return b[hdr:size]
			}
			b = b[size:]
		}
		return nil
	}
	moov := box(b, "moov")
	mvhd := box(moov, "mvhd")
	if len(mvhd) < 4 {
		return 0
	}
	var scale, dur uint64
	if mvhd[0] == 1 && len(mvhd) >= 32 {
		scale, dur = uint64(binary.BigEndian.Uint32(mvhd[20:])), binary.BigEndian.Uint64(mvhd[24:])
	} else if len(mvhd) >= 20 {
		scale, dur = uint64(binary.BigEndian.Uint32(mvhd[12:])), uint64(binary.BigEndian.Uint32(mvhd[16:]))
	}
	if scale == 0 || dur > 1<<40 {
		return 0
	}
	return int64(dur * 1000 / scale)
}

// wavDuration divides the data chunk by the byte rate.
func wavDuration(b []byte) int64 {
	if len(b) < 12 || string(b[:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return 0
	}
	b = b[12:]
	var rate uint32
	for i := 0; i < 100 && len(b) >= 8; i++ {
		id, size := string(b[:4]), binary.LittleEndian.Uint32(b[4:])
		switch {
		case id == "fmt " && len(b) >= 20:
			rate = binary.LittleEndian.Uint32(b[16:]) // byte rate
		case id == "data" && rate > 0:
			return int64(uint64(size) * 1000 / uint64(rate))
		}
		if uint64(size)+8 > uint64(len(b)) {
			return 0
		}
		b = b[8+size+size%2:]
	}
	return 0
}

var adtsRates = [...]int64{96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350}

// adtsDuration counts ADTS frames (1024 samples each).
func adtsDuration(b []byte) int64 {
	var frames, rate int64
	for len(b) >= 7 && frames < 1<<20 {
		if b[0] != 0xFF || b[1]&0xF6 != 0xF0 {
			break
		}
		ri := int(b[2]>>2) & 0x0F
		if ri >= len(adtsRates) {
			break
		}
		rate = adtsRates[ri]
		n := int(b[3]&0x03)<<11 | int(b[4])<<3 | int(b[5]>>5)
		if n < 7 || n > len(b) {
			break
		}
		frames++
		b = b[n:]
	}
	if frames == 0 || rate == 0 {
		return 0
	}
	return frames * 1024 * 1000 / rate
}
