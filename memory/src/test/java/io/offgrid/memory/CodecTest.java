package io.offgrid.memory;

import net.openhft.chronicle.bytes.BytesIn;
import net.openhft.chronicle.bytes.BytesMarshallable;
import net.openhft.chronicle.bytes.BytesOut;
import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

@Timeout(60)
class CodecTest extends StoreFixture
{
    @Test
    void builtInValuesRoundTripWithTheirCodecIds()
    {
        final BlockStore store = open(16 << 20);
        final Object[] values = {
            null, Boolean.TRUE, Boolean.FALSE, 42, Integer.MIN_VALUE, Long.MAX_VALUE, -1.5e300, Double.NaN,
            "", "héllo wörld ✓ 𝄞", new byte[]{1, 2, 3}, new int[]{1, -2, 3}, new long[]{Long.MIN_VALUE, 7},
            new double[]{0.5, -0.25},
        };
        final int[] ids = {0, 1, 1, 2, 2, 3, 4, 4, 5, 5, 6, 7, 8, 9};
        for (int i = 0; i < values.length; i++)
        {
            store.put("v" + i, values[i]);
            try (Block block = store.get("v" + i))
            {
                assertEquals(ids[i], block.codecId(), "codec id of " + values[i]);
            }
            final Object back = store.getValue("v" + i);
            if (values[i] instanceof byte[])
            {
                assertArrayEquals((byte[])values[i], (byte[])back);
            }
            else if (values[i] instanceof int[])
            {
                assertArrayEquals((int[])values[i], (int[])back);
            }
            else if (values[i] instanceof long[])
            {
                assertArrayEquals((long[])values[i], (long[])back);
            }
            else if (values[i] instanceof double[])
            {
                assertArrayEquals((double[])values[i], (double[])back);
            }
            else
            {
                assertEquals(values[i], back);
            }
        }
        assertEquals("héllo wörld ✓ 𝄞".getBytes(java.nio.charset.StandardCharsets.UTF_8).length + 16,
            store.nbytes("v9"));
    }

    @Test
    void columnarTableIsReadColumnByColumnInPlace()
    {
        final BlockStore store = open(64 << 20);
        final int rows = 100_000;
        final Random random = new Random(5);
        final long[] ids = new long[rows];
        final double[] prices = new double[rows];
        double expectedSum = 0;
        for (int i = 0; i < rows; i++)
        {
            ids[i] = random.nextLong();
            prices[i] = random.nextDouble();
            expectedSum += prices[i];
        }
        final ColumnarTable table = ColumnarTable.builder().addLong("id", ids).addDouble("price", prices).build();
        store.put("t", table);
        assertEquals(table, store.getValue("t"));

        try (Block block = store.get("t"))
        {
            final TableView view = new TableView().wrap(block.payload(), 0, (int)block.payloadLength());
            assertEquals(2, view.columnCount());
            assertEquals(rows, view.rowCount());
            assertEquals(ColumnType.DOUBLE, view.columnType(view.columnIndex("price")));
            assertEquals(-1, view.columnIndex("missing"));
            final int price = view.columnOffset(view.columnIndex("price"));
            final DirectBuffer buffer = view.buffer();
            double sum = 0;
            for (int r = 0; r < rows; r++)
            {
                sum += buffer.getDouble(price + 8 * r);
            }
            assertEquals(expectedSum, sum, 0.0);
            assertEquals(0, price % 8 == 0 ? 0 : 1, "column data is 8-byte aligned");
            assertEquals(ids[rows - 1], view.getLong(view.columnIndex("id"), rows - 1));
            // The view reads the block's own memory: no copy was made.
            assertEquals(block.payloadAddress(), buffer.addressOffset());
        }
    }

    @Test
    void stringColumnsRoundTripAndReadInPlace()
    {
        final BlockStore store = open(8 << 20);
        final String[] names = {"", "a", "héllo", "x,y \"quoted\"", "𝄞"};
        final ColumnarTable table = ColumnarTable.builder()
            .addString("name", names).addLong("n", new long[]{0, 1, 2, 3, 4}).build();
        store.put("s", table);
        assertEquals(table, store.getValue("s"));
        try (Block block = store.get("s"))
        {
            final TableView view = new TableView().wrap(block.payload(), 0, (int)block.payloadLength());
            assertEquals(ColumnType.STRING, view.columnType(0));
            for (int r = 0; r < names.length; r++)
            {
                assertEquals(names[r], view.getString(0, r));
                assertEquals(names[r].getBytes(java.nio.charset.StandardCharsets.UTF_8).length,
                    view.stringLength(0, r));
            }
            assertEquals(3L, view.getLong(1, 3));
            assertEquals(0, view.columnOffset(1) % 8, "numeric column after strings stays aligned");
        }
        assertThrows(IllegalArgumentException.class,
            () -> ColumnarTable.builder().addString("bad", new String[]{"a", null}));
    }

    @Test
    void tableLayoutLetsResultsBeWrittenOffHeap()
    {
        final String[] names = {"x", "y"};
        final ColumnType[] types = {ColumnType.LONG, ColumnType.DOUBLE};
        final int rows = 10;
        final int length = (int)TableView.encodedLength(names, types, rows, null);
        final UnsafeBuffer buffer = new UnsafeBuffer(java.nio.ByteBuffer.allocateDirect(length));
        TableView.layout(names, types, rows, buffer, 0);
        final TableView view = new TableView().wrap(buffer, 0, length);
        for (int r = 0; r < rows; r++)
        {
            buffer.putLong(view.columnOffset(0) + 8 * r, r * 3L);
            buffer.putDouble(view.columnOffset(1) + 8 * r, r / 2.0);
        }
        assertEquals(27L, view.getLong(0, 9));
        assertEquals(4.5, view.getDouble(1, 9));
    }

    @Test
    void malformedTableBytesAreRefusedNotRead()
    {
        final UnsafeBuffer buffer = new UnsafeBuffer(new byte[64]);
        assertThrows(CodecException.class, () -> new TableView().wrap(buffer, 0, 64));
        buffer.putInt(0, TableView.MAGIC);
        buffer.putInt(4, 1_000_000);
        assertThrows(CodecException.class, () -> new TableView().wrap(buffer, 0, 64));
        buffer.putInt(4, 1);
        buffer.putLong(8, 1_000);
        buffer.putInt(16, 1);
        assertThrows(CodecException.class, () -> new TableView().wrap(buffer, 0, 64));
    }

    @Test
    void userCodecRegisteredByClass()
    {
        final CodecRegistry codecs = new CodecRegistry().register(new PointCodec());
        final BlockStore store = open(context(1 << 20).codecs(codecs));
        store.put("p", new Point(3, -4));
        assertEquals(new Point(3, -4), store.getValue("p"));
        try (Block block = store.get("p"))
        {
            assertEquals(100, block.codecId());
        }
        assertThrows(IllegalArgumentException.class, () -> codecs.register(new PointCodec()));
        final CodecRegistry other = new CodecRegistry();
        assertThrows(IllegalArgumentException.class, () -> other.register(new Codec<String>()
        {
            public int id()
            {
                return 5;
            }

            public Class<String> type()
            {
                return String.class;
            }

            public int encodedLength(final String value)
            {
                return 0;
            }

            public void encode(final String value, final MutableDirectBuffer buffer, final int offset)
            {
            }

            public String decode(final DirectBuffer buffer, final int offset, final int length)
            {
                return null;
            }
        }));
    }

    @Test
    void bytesMarshallableValuesRoundTrip()
    {
        final BlockStore store = open(1 << 20);
        final Trade trade = new Trade();
        trade.id = 77;
        trade.symbol = "OFFG";
        trade.price = 12.5;
        store.put("trade", trade);
        final Trade back = store.getValue("trade");
        assertEquals(77, back.id);
        assertEquals("OFFG", back.symbol);
        assertEquals(12.5, back.price);
    }

    @Test
    void javaSerializationIsRefusedUnlessAllowListed()
    {
        final BlockStore strict = open(1 << 20);
        final CodecException refused = assertThrows(CodecException.class,
            () -> strict.put("list", new ArrayList<>(List.of(1, 2))));
        assertTrue(refused.getMessage().contains("java.util.ArrayList"), refused.getMessage());
        assertTrue(!strict.contains("list"));

        final BlockStore permissive = open(context(1 << 20).codecs(new CodecRegistry("java.util.*;java.lang.*;!*")));
        permissive.put("list", new ArrayList<>(List.of(1, 2)));
        assertEquals(List.of(1, 2), permissive.getValue("list"));

        // A block written by a permissive node is refused by a strict one when it is decoded.
        try (Block block = permissive.get("list"))
        {
            final CodecException ex = assertThrows(CodecException.class, () -> strict.codecs()
                .codecFor(block.codecId()).decode(block.payload(), 0, (int)block.payloadLength()));
            assertTrue(ex.getMessage().contains("allow-list"), ex.getMessage());
        }
        // Not serializable at all.
        final CodecException none = assertThrows(CodecException.class, () -> permissive.put("t", new Thread()));
        assertTrue(none.getMessage().contains("no codec for java.lang.Thread"), none.getMessage());
    }

    @Test
    void unknownCodecIdIsAClearError()
    {
        final CodecException ex = assertThrows(CodecException.class, () -> new CodecRegistry().codecFor(999));
        assertTrue(ex.getMessage().contains("999"), ex.getMessage());
    }

    record Point(int x, int y) implements Serializable
    {
    }

    static final class PointCodec implements Codec<Point>
    {
        public int id()
        {
            return 100;
        }

        public Class<Point> type()
        {
            return Point.class;
        }

        public int encodedLength(final Point value)
        {
            return 8;
        }

        public void encode(final Point value, final MutableDirectBuffer buffer, final int offset)
        {
            buffer.putInt(offset, value.x());
            buffer.putInt(offset + 4, value.y());
        }

        public Point decode(final DirectBuffer buffer, final int offset, final int length)
        {
            return new Point(buffer.getInt(offset), buffer.getInt(offset + 4));
        }
    }

    /** A chronicle-bytes marshallable user type. */
    public static final class Trade implements BytesMarshallable
    {
        long id;
        String symbol;
        double price;

        @Override
        public void writeMarshallable(final BytesOut<?> out)
        {
            out.writeLong(id);
            out.write8bit(symbol);
            out.writeDouble(price);
        }

        @Override
        public void readMarshallable(final BytesIn<?> in)
        {
            id = in.readLong();
            symbol = in.read8bit();
            price = in.readDouble();
        }

        @Override
        public boolean equals(final Object o)
        {
            return o instanceof Trade && ((Trade)o).id == id && Objects.equals(((Trade)o).symbol, symbol);
        }

        @Override
        public int hashCode()
        {
            return Long.hashCode(id);
        }
    }
}
