package io.offgrid.transport;

import org.agrona.MutableDirectBuffer;
import uk.co.real_logic.sbe.ir.Ir;
import uk.co.real_logic.sbe.ir.Signal;
import uk.co.real_logic.sbe.ir.Token;
import uk.co.real_logic.sbe.xml.IrGenerator;
import uk.co.real_logic.sbe.xml.MessageSchema;
import uk.co.real_logic.sbe.xml.ParserOptions;
import uk.co.real_logic.sbe.xml.XmlSchemaParser;

import java.io.InputStream;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;

/**
 * Builds valid random messages of any template straight from the schema's IR, so tests cover every
 * message the schema has, including ones added later.
 */
final class SchemaMessages
{
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    private final Ir ir;
    private final Map<Integer, List<Token>> byTemplate = new TreeMap<>();

    private SchemaMessages(final Ir ir)
    {
        this.ir = ir;
        for (final List<Token> tokens : ir.messages())
        {
            byTemplate.put(tokens.get(0).id(), tokens);
        }
    }

    static SchemaMessages load()
    {
        try (InputStream in = SchemaMessages.class.getResourceAsStream("/offgrid-protocol.xml"))
        {
            final MessageSchema schema = XmlSchemaParser.parse(in, ParserOptions.DEFAULT);
            return new SchemaMessages(new IrGenerator().generate(schema));
        }
        catch (final Exception ex)
        {
            throw new IllegalStateException(ex);
        }
    }

    int schemaId()
    {
        return ir.id();
    }

    int version()
    {
        return ir.version();
    }

    List<Integer> templateIds()
    {
        return new ArrayList<>(byTemplate.keySet());
    }

    List<Integer> applicationTemplateIds()
    {
        final List<Integer> ids = new ArrayList<>();
        for (final int id : byTemplate.keySet())
        {
            if (id >= 100)
            {
                ids.add(id);
            }
        }
        return ids;
    }

    String name(final int templateId)
    {
        return byTemplate.get(templateId).get(0).name();
    }

    /**
     * @return the encoded length, header included.
     */
    int encode(final int templateId, final MutableDirectBuffer buffer, final int offset, final Random random)
    {
        final List<Token> tokens = byTemplate.get(templateId);
        final Token message = tokens.get(0);
        final int blockLength = message.encodedLength();
        buffer.putShort(offset, (short)blockLength, LE);
        buffer.putShort(offset + 2, (short)templateId, LE);
        buffer.putShort(offset + 4, (short)ir.id(), LE);
        buffer.putShort(offset + 6, (short)ir.version(), LE);
        final int body = offset + 8;
        fillBlock(tokens, 1, tokens.size() - 1, buffer, body, blockLength, random);
        final int limit = encodeMembers(tokens, 1, tokens.size() - 1, buffer, body + blockLength, random);
        return limit - offset;
    }

    private static void fillBlock(
        final List<Token> tokens, final int from, final int to, final MutableDirectBuffer buffer, final int at, final int length,
        final Random random)
    {
        for (int i = 0; i < length; i++)
        {
            buffer.putByte(at + i, (byte)random.nextInt());
        }
        int i = from;
        while (i < to)
        {
            final Token t = tokens.get(i);
            if (t.signal() == Signal.BEGIN_FIELD)
            {
                final Token type = tokens.get(i + 1);
                if (type.signal() == Signal.BEGIN_ENUM)
                {
                    final List<Long> values = new ArrayList<>();
                    for (int j = i + 2; tokens.get(j).signal() == Signal.VALID_VALUE; j++)
                    {
                        values.add(tokens.get(j).encoding().constValue().longValue());
                    }
                    buffer.putByte(at + t.offset(), (byte)(long)values.get(random.nextInt(values.size())));
                }
                i += t.componentTokenCount();
            }
            else if (t.signal() == Signal.BEGIN_GROUP || t.signal() == Signal.BEGIN_VAR_DATA)
            {
                return;
            }
            else
            {
                i++;
            }
        }
    }

    private static int encodeMembers(
        final List<Token> tokens, final int from, final int to, final MutableDirectBuffer buffer, final int start, final Random random)
    {
        int limit = start;
        int i = from;
        while (i < to)
        {
            final Token t = tokens.get(i);
            switch (t.signal())
            {
                case BEGIN_GROUP:
                {
                    final int groupBlock = t.encodedLength();
                    final int count = random.nextInt(3);
                    buffer.putShort(limit, (short)groupBlock, LE);
                    buffer.putShort(limit + 2, (short)count, LE);
                    limit += 4;
                    final int membersFrom = i + 1 + tokens.get(i + 1).componentTokenCount();
                    final int membersTo = i + t.componentTokenCount() - 1;
                    for (int k = 0; k < count; k++)
                    {
                        fillBlock(tokens, membersFrom, membersTo, buffer, limit, groupBlock, random);
                        limit += groupBlock;
                        limit = encodeMembers(tokens, membersFrom, membersTo, buffer, limit, random);
                    }
                    i += t.componentTokenCount();
                    break;
                }
                case BEGIN_VAR_DATA:
                {
                    final int length = random.nextInt(24);
                    buffer.putInt(limit, length, LE);
                    limit += 4;
                    for (int k = 0; k < length; k++)
                    {
                        buffer.putByte(limit + k, (byte)('a' + random.nextInt(26)));
                    }
                    limit += length;
                    i += t.componentTokenCount();
                    break;
                }
                case BEGIN_FIELD:
                    i += t.componentTokenCount();
                    break;
                default:
                    i++;
            }
        }
        return limit;
    }
}
