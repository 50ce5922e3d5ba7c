package io.offgrid.memory;

/**
 * Types of the columns of a {@link ColumnarTable}. LONG and DOUBLE values take 8 bytes each;
 * STRING columns are rows + 1 offsets (8 bytes each) followed by the UTF-8 bytes.
 */
public enum ColumnType
{
    /** 64-bit signed integers. */
    LONG(1),
    /** IEEE 754 doubles. */
    DOUBLE(2),
    /** UTF-8 strings. */
    STRING(3);

    private final int code;

    ColumnType(final int code)
    {
        this.code = code;
    }

    /**
     * @return the code stored in the table header.
     */
    public int code()
    {
        return code;
    }

    /**
     * @param code a code read from a table header.
     * @return the type.
     * @throws CodecException for an unknown code.
     */
    public static ColumnType fromCode(final int code)
    {
        switch (code)
        {
            case 1:
                return LONG;
            case 2:
                return DOUBLE;
            case 3:
                return STRING;
            default:
                throw new CodecException("unknown column type code " + code);
        }
    }
}
