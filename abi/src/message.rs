//! The words a system call carries besides its message: `seL4_MessageInfo`, `seL4_CapRights`
//! and `seL4_CNode_CapData` (`libsel4/mode_include/64/sel4/shared_types.bf`).

/// `seL4_MsgMaxLength`: the most message words a message carries.
pub const MSG_MAX_LENGTH: u64 = 120;
/// `seL4_MsgMaxExtraCaps`: the most extra caps a message carries.
pub const MSG_MAX_EXTRA_CAPS: u64 = 3;

/// `seL4_MsgLengthBits`.
const LENGTH_BITS: u32 = 7;
/// `seL4_MsgExtraCapBits`.
const EXTRA_CAP_BITS: u32 = 2;
/// Bits of `capsUnwrapped`.
const UNWRAPPED_BITS: u32 = 3;
const EXTRA_CAPS_SHIFT: u32 = LENGTH_BITS;
const UNWRAPPED_SHIFT: u32 = EXTRA_CAPS_SHIFT + EXTRA_CAP_BITS;
const LABEL_SHIFT: u32 = UNWRAPPED_SHIFT + UNWRAPPED_BITS;

const fn low_bits(n: u32) -> u64 {
    (1 << n) - 1
}

/// `seL4_MessageInfo`: label (bits 63..12), caps unwrapped (11..9), extra caps (8..7),
/// length (6..0).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct MessageInfo(u64);

impl MessageInfo {
    /// `seL4_MessageInfo_new(label, capsUnwrapped, extraCaps, length)`; each field is cut to
    /// its width.
    pub const fn new(label: u64, caps_unwrapped: u64, extra_caps: u64, length: u64) -> MessageInfo {
        MessageInfo(
            (label << LABEL_SHIFT)
                | ((caps_unwrapped & low_bits(UNWRAPPED_BITS)) << UNWRAPPED_SHIFT)
                | ((extra_caps & low_bits(EXTRA_CAP_BITS)) << EXTRA_CAPS_SHIFT)
                | (length & low_bits(LENGTH_BITS)),
        )
    }

    /// The word as a thread passes it, every bit as given.
    pub const fn from_raw(word: u64) -> MessageInfo {
        MessageInfo(word)
    }

    /// `messageInfoFromWord`: the word as the kernel reads it, the length cut to
    /// [`MSG_MAX_LENGTH`].
    pub const fn from_word(word: u64) -> MessageInfo {
        let m = MessageInfo(word);
        if m.length() > MSG_MAX_LENGTH { m.with_length(MSG_MAX_LENGTH) } else { m }
    }

    /// The word.
    pub const fn word(self) -> u64 {
        self.0
    }

    /// The label: an invocation label, or the error code of a kernel's reply.
    pub const fn label(self) -> u64 {
        self.0 >> LABEL_SHIFT
    }

    /// Which extra caps the receiver got as badges instead of caps (a bit each).
    pub const fn caps_unwrapped(self) -> u64 {
        (self.0 >> UNWRAPPED_SHIFT) & low_bits(UNWRAPPED_BITS)
    }

    /// How many extra caps (0..=3).
    pub const fn extra_caps(self) -> u64 {
        (self.0 >> EXTRA_CAPS_SHIFT) & low_bits(EXTRA_CAP_BITS)
    }

    /// How many message words (0..=127 as passed; [`from_word`](Self::from_word) cuts to 120).
    pub const fn length(self) -> u64 {
        self.0 & low_bits(LENGTH_BITS)
    }

    /// The same with another label.
    pub const fn with_label(self, label: u64) -> MessageInfo {
        MessageInfo::new(label, self.caps_unwrapped(), self.extra_caps(), self.length())
    }

    /// The same with another length.
    pub const fn with_length(self, length: u64) -> MessageInfo {
        MessageInfo::new(self.label(), self.caps_unwrapped(), self.extra_caps(), length)
    }

    /// The same with another extra-cap count.
    pub const fn with_extra_caps(self, extra_caps: u64) -> MessageInfo {
        MessageInfo::new(self.label(), self.caps_unwrapped(), extra_caps, self.length())
    }

    /// The same with other unwrapped bits.
    pub const fn with_caps_unwrapped(self, caps_unwrapped: u64) -> MessageInfo {
        MessageInfo::new(self.label(), caps_unwrapped, self.extra_caps(), self.length())
    }
}

/// `seL4_CapRights`: bit 0 write, bit 1 read, bit 2 grant, bit 3 grant-reply.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct CapRights {
    /// `capAllowWrite` (endpoint, notification: may send; frame: may write).
    pub write: bool,
    /// `capAllowRead` (endpoint, notification: may receive; frame: may read).
    pub read: bool,
    /// `capAllowGrant`: may send caps.
    pub grant: bool,
    /// `capAllowGrantReply`: may send a reply cap (a Call through it).
    pub grant_reply: bool,
}

impl CapRights {
    /// `seL4_AllRights`.
    pub const ALL: CapRights = CapRights { write: true, read: true, grant: true, grant_reply: true };
    /// `seL4_NoRights`.
    pub const NONE: CapRights = CapRights { write: false, read: false, grant: false, grant_reply: false };
    /// `seL4_ReadWrite`.
    pub const READ_WRITE: CapRights = CapRights { write: true, read: true, grant: false, grant_reply: false };
    /// `seL4_CanRead`.
    pub const READ: CapRights = CapRights { read: true, ..CapRights::NONE };
    /// `seL4_CanWrite`.
    pub const WRITE: CapRights = CapRights { write: true, ..CapRights::NONE };
    /// `seL4_CanGrant`.
    pub const GRANT: CapRights = CapRights { grant: true, ..CapRights::NONE };
    /// `seL4_CanGrantReply`.
    pub const GRANT_REPLY: CapRights = CapRights { grant_reply: true, ..CapRights::NONE };

    /// `seL4_CapRights_new(grantReply, grant, read, write)`.
    pub const fn new(grant_reply: bool, grant: bool, read: bool, write: bool) -> CapRights {
        CapRights { write, read, grant, grant_reply }
    }

    /// `rightsFromWord`.
    pub const fn from_word(w: u64) -> CapRights {
        CapRights { write: w & 1 != 0, read: w & 2 != 0, grant: w & 4 != 0, grant_reply: w & 8 != 0 }
    }

    /// The word encoding.
    pub const fn to_word(self) -> u64 {
        self.write as u64
            | (self.read as u64) << 1
            | (self.grant as u64) << 2
            | (self.grant_reply as u64) << 3
    }

    /// Rights present in both.
    pub const fn and(self, o: CapRights) -> CapRights {
        CapRights {
            write: self.write && o.write,
            read: self.read && o.read,
            grant: self.grant && o.grant,
            grant_reply: self.grant_reply && o.grant_reply,
        }
    }
}

/// `seL4_CNode_CapData`: the data word that sets a CNode cap's guard (Mint, Mutate, Rotate,
/// TCB Configure and SetSpace): guard size in bits 5..0, guard in bits 63..6.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct CNodeCapData(u64);

impl CNodeCapData {
    const GUARD_SIZE_BITS: u32 = 6;

    /// `seL4_CNode_CapData_new(guard, guardSize)`.
    pub const fn new(guard: u64, guard_size: u64) -> CNodeCapData {
        CNodeCapData((guard << Self::GUARD_SIZE_BITS) | (guard_size & low_bits(Self::GUARD_SIZE_BITS)))
    }

    /// The data word as passed.
    pub const fn from_word(w: u64) -> CNodeCapData {
        CNodeCapData(w)
    }

    /// The word.
    pub const fn word(self) -> u64 {
        self.0
    }

    /// The guard size in bits (0..=63).
    pub const fn guard_size(self) -> u64 {
        self.0 & low_bits(Self::GUARD_SIZE_BITS)
    }

    /// The guard (all 58 bits; the kernel keeps the low `guard_size` of them).
    pub const fn guard(self) -> u64 {
        self.0 >> Self::GUARD_SIZE_BITS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_info_layout_is_sel4s() {
        let i = MessageInfo::new(2, 0, 1, 2);
        assert_eq!(i.word(), (2 << 12) | (1 << 7) | 2);
        assert_eq!((i.label(), i.caps_unwrapped(), i.extra_caps(), i.length()), (2, 0, 1, 2));
        assert_eq!(MessageInfo::from_word(0x7f).length(), MSG_MAX_LENGTH);
        assert_eq!(MessageInfo::from_raw(0x7f).length(), 0x7f);
        assert_eq!(MessageInfo::from_word(u64::MAX).extra_caps(), 3);
        assert_eq!(MessageInfo::from_word(u64::MAX).label(), (1 << 52) - 1);
        assert_eq!(MessageInfo::new(5, 7, 3, 9).with_length(1), MessageInfo::new(5, 7, 3, 1));
        assert_eq!(MessageInfo::new(5, 7, 3, 9).with_label(0).label(), 0);
    }

    #[test]
    fn rights_and_cnode_data_encode_as_sel4() {
        assert_eq!(CapRights::ALL.to_word(), 0xf);
        assert_eq!(CapRights::new(false, false, true, false), CapRights::READ);
        assert_eq!(CapRights::from_word(2).to_word(), 2);
        assert_eq!(CapRights::GRANT_REPLY.to_word(), 8);
        let d = CNodeCapData::new(0b101, 3);
        assert_eq!(d.word(), (0b101 << 6) | 3);
        assert_eq!((d.guard(), d.guard_size()), (0b101, 3));
    }
}
