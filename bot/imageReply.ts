/**
 * The `/image` command's reply: the picture inline (a data: URL, which Teams renders in the chat)
 * with the "AI generated" label, or a polite text when pictures are off, the description was
 * declined, or the image service failed.
 */
import { ActivityTypes, type TurnContext } from 'botbuilder';
import type { Logger } from 'pino';
import type { Images } from '../api/assistant/images';
import { isKluisError } from '../api/errors';
import type { Principal } from '../api/tenancy/principal';
import { AI_GENERATED_ENTITY, PROBLEM_TEXT } from './answerReply';
import { IMAGE_TEXT, imagePromptOf } from './cards';

const bilingual = (text: { en: string; nl: string }) => `${text.en} / ${text.nl}`;

export async function replyWithImage(context: TurnContext, principal: Principal, images: Images | undefined, logger: Logger): Promise<void> {
  if (!images?.enabled) {
    await context.sendActivity(bilingual(IMAGE_TEXT.disabled));
    return;
  }
  const prompt = imagePromptOf(context.activity.text ?? '');
  if (!prompt) {
    await context.sendActivity(bilingual(IMAGE_TEXT.usage));
    return;
  }
  await context.sendActivity({ type: ActivityTypes.Typing });
  try {
    const image = await images.generate(principal, prompt);
    await context.sendActivity({
      type: ActivityTypes.Message,
      text: bilingual(IMAGE_TEXT.caption),
      attachments: [{ contentType: image.contentType, contentUrl: `data:${image.contentType};base64,${image.bytes.toString('base64')}`, name: `kluis-${image.id}.png` }],
      entities: [AI_GENERATED_ENTITY],
    });
  } catch (error) {
    if (isKluisError(error, 'image_filtered')) return void (await context.sendActivity(bilingual(IMAGE_TEXT.filtered)));
    if (isKluisError(error, 'request_malformed')) return void (await context.sendActivity(bilingual(IMAGE_TEXT.tooLong)));
    logger.error({ err: error, workspaceId: principal.workspaceId, errorId: isKluisError(error) ? error.id : 'unexpected' }, 'image generation failed');
    await context.sendActivity(isKluisError(error, 'provider_unavailable') ? PROBLEM_TEXT.unavailable : PROBLEM_TEXT.failed);
  }
}
