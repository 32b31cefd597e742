"""The assistant: an OpenAI chat completion drafts the answer, an Anthropic message reviews it.

Both clients talk to DMS_LLM_BASE_URL (a local fake of the vendors' APIs in the capture): the
SDK's OpenAI and Anthropic integrations record the gen_ai spans as they would in production.
"""
import anthropic
import openai
from django.conf import settings

DRAFT_MODEL = "gpt-4o-mini"
REVIEW_MODEL = "claude-sonnet-4-5"


def _openai():
    return openai.OpenAI(base_url=settings.LLM_BASE_URL, api_key=settings.LLM_API_KEY)


def _anthropic():
    # The Anthropic client adds /v1 itself.
    return anthropic.Anthropic(base_url=settings.LLM_BASE_URL.removesuffix("/v1"), api_key=settings.LLM_API_KEY)


def answer(company_name, doc, prompt):
    draft = _openai().chat.completions.create(
        model=DRAFT_MODEL,
        temperature=0.2,
        max_tokens=400,
        messages=[
            {"role": "system", "content": f"You are the document assistant of {company_name}."},
            {"role": "user", "content": f"Document {doc.title}:\n{doc.body}\n\nQuestion: {prompt}"},
        ],
    )
    text = draft.choices[0].message.content
    review = _anthropic().messages.create(
        model=REVIEW_MODEL,
        max_tokens=200,
        system="Check the draft answer for unsupported claims.",
        messages=[{"role": "user", "content": f"Question: {prompt}\nDraft: {text}"}],
    )
    tokens = draft.usage.total_tokens + review.usage.input_tokens + review.usage.output_tokens
    return {"answer": text, "review": review.content[0].text, "tokens": tokens}
