package io.offgrid.memory;

/**
 * Types of the columns of a {@link ColumnarTable}; each value takes 8 bytes.
 */
public enum ColumnType
{
    /** 64-bit signed integers. */
    LONG(1),
    /** IEEE 754 doubles. */
    DOUBLE(2);

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
            default:
                throw new CodecException("unknown column type code " + code);
        }
    }
}
